/**
 * The lifetime of a reliable session (lib/reliable/session-lifetime.ts) seen from a hand-written
 * protocol peer and the session store: which close codes end a session and which suspend it, how
 * long a suspended session is released for, expiry and which limit it names, shedding, a session
 * taken over by another node, and what the end does to pending sends, requests and the store.
 * Written from the survivors of its mutation run (docs/TESTING.md, "Mutation testing").
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import diagnosticsChannel from 'node:diagnostics_channel'
import { MemorySessionStore } from '../../lib/index.js'
import type { CloseInfo, FastifyReliableWsOptions, ReliableConnection, WsRouteOptions } from '../../lib/index.js'
import { CHANNEL_NAMES } from '../../lib/metrics/channels.js'
import { faultyStore } from '../../lib/testing/index.js'
import type { SessionStore } from '../../lib/store/session-store.js'
import type { Fanout, FanoutMessage } from '../../lib/fanout/fanout.js'
import { buildApp, captureLogs, listen, LogLevel, SINGLE_ADDRESS_LOAD, waitFor } from '../helpers/server.js'
import type { LogLine } from '../helpers/server.js'
import { openPeer, resumeOf } from '../helpers/protocol-peer.js'
import type { ProtocolPeer } from '../helpers/protocol-peer.js'

const TIMEOUT = { timeout: 30_000 }

/** A memory store that records the release and delete calls it gets. */
class RecordingStore extends MemorySessionStore {
  readonly releases: Array<{ sessionId: string, ownerId: string, timeout: number }> = []
  readonly deletes: Array<{ sessionId: string, ownerId: string }> = []

  override async release (sessionId: string, ownerId: string, timeout: number): Promise<boolean> {
    this.releases.push({ sessionId, ownerId, timeout })
    return await super.release(sessionId, ownerId, timeout)
  }

  override async delete (sessionId: string, ownerId: string): Promise<boolean> {
    this.deletes.push({ sessionId, ownerId })
    return await super.delete(sessionId, ownerId)
  }
}

interface Node {
  url: string
  lines: LogLine[]
  connections: ReliableConnection[]
  events: string[]
  closes: CloseInfo[]
  peer: () => Promise<ProtocolPeer>
  close: () => Promise<void>
}

type After = { after: (fn: () => unknown) => void }

async function node (t: After, plugin: FastifyReliableWsOptions, route: WsRouteOptions = { reliable: true }): Promise<Node> {
  const { stream, lines } = captureLogs()
  const connections: ReliableConnection[] = []
  const events: string[] = []
  const closes: CloseInfo[] = []
  const app = await buildApp({ ...SINGLE_ADDRESS_LOAD, ...plugin }, (instance) => {
    instance.wsRoute('/r', route, (socket) => {
      const connection = socket as ReliableConnection
      connections.push(connection)
      connection.on('message', () => {})
      connection.on('suspend', (info) => events.push(`suspend:${info.code}:${info.reason}:${info.cause}`))
      connection.on('close', (info) => { events.push(`close:${info.code}:${info.cause}`); closes.push(info) })
    })
  }, { logger: { level: 'debug', stream } })
  const url = `${await listen(app)}/r`
  const peers: ProtocolPeer[] = []
  let closed = false
  const close = async (): Promise<void> => {
    for (const peer of peers) peer.terminate()
    if (!closed) { closed = true; await app.close() }
  }
  t.after(close)
  return {
    url,
    lines,
    connections,
    events,
    closes,
    async peer () {
      const peer = await openPeer(url)
      peers.push(peer)
      return peer
    },
    close
  }
}

/** An in-process fan-out between the nodes of one test: what one node publishes, the others receive. */
class Bus {
  readonly #receivers = new Set<(message: FanoutMessage) => void>()

  fanout (): Fanout {
    let own: ((message: FanoutMessage) => void) | undefined
    return {
      start: async (receive) => {
        own = receive
        this.#receivers.add(receive)
      },
      publish: (message) => {
        for (const receive of this.#receivers) if (receive !== own) setImmediate(() => receive(message))
      },
      close: async () => {
        if (own !== undefined) this.#receivers.delete(own)
      }
    }
  }
}

/** Records what a diagnostics channel publishes while the test runs. */
function record (t: After, name: string): Array<Record<string, unknown>> {
  const seen: Array<Record<string, unknown>> = []
  const listener = (message: unknown): void => { seen.push(message as Record<string, unknown>) }
  diagnosticsChannel.subscribe(name, listener)
  t.after(() => diagnosticsChannel.unsubscribe(name, listener))
  return seen
}

const ENDING_CODES = [1000, 1003, 1007, 1009, 4400, 4413, 4426, 4507]
const SUSPENDING_CODES = [1001, 3000, 4000, 4409]

describe('SessionLifetime (mutation survivors)', () => {
  test('a client close with a session-ending code ends the session and deletes its record; other codes suspend it', TIMEOUT, async (t) => {
    const closes = record(t, CHANNEL_NAMES.connectionClose)
    const suspends = record(t, CHANNEL_NAMES.sessionSuspend)
    const ends = record(t, CHANNEL_NAMES.sessionEnd)
    const store = new RecordingStore()
    const server = await node(t, { sessionStore: store })
    for (const [i, code] of [...ENDING_CODES, ...SUSPENDING_CODES].entries()) {
      const peer = await server.peer()
      const welcome = await peer.handshake()
      await waitFor(() => server.connections.length === i + 1, 'the connection')
      const connection = server.connections[i]
      peer.socket.close(code, `bye ${code}`)
      await peer.closed()
      if (ENDING_CODES.includes(code)) {
        await waitFor(() => connection.isEnded, `the end after ${code}`)
        assert.deepEqual(server.closes.at(-1), { code, reason: `bye ${code}`, cause: 'client' }, `${code}`)
        await waitFor(() => store.deletes.some((d) => d.sessionId === welcome.sessionId), `the delete after ${code}`)
        assert.equal(await store.get(welcome.sessionId), undefined, `${code}: the record is gone`)
        assert.ok(ends.some((e) => e.code === code && e.reason === `bye ${code}` && e.cause === 'client'), `session:end ${code}`)
      } else {
        await waitFor(() => !connection.isAttached, `the suspend after ${code}`)
        assert.equal(connection.isEnded, false, `${code} suspends`)
        assert.equal(server.events.at(-1), `suspend:${code}:bye ${code}:client`)
        assert.ok(suspends.some((s) => s.code === code && s.cause === 'client'), `session:suspend ${code}`)
        const line = server.lines.find((l) => l.msg === 'reliable session suspended' && l.code === code)
        assert.ok(line !== undefined, `the suspend of ${code} is logged`)
        assert.equal(line.level, LogLevel.debug)
        assert.equal(line.session, connection.sessionTag)
        assert.equal(line.cause, 'client')
        await waitFor(() => store.releases.some((r) => r.sessionId === welcome.sessionId), `the release after ${code}`)
        assert.notEqual(await store.get(welcome.sessionId), undefined)
      }
      assert.ok(closes.some((c) => c.code === code && c.reason === `bye ${code}` && c.cause === 'client' && c.reliable === true), `connection:close ${code}`)
    }
  })

  test('a suspended session is released for unackedSessionTimeout until the client acks or sends, then for sessionTimeout', TIMEOUT, async (t) => {
    const store = new RecordingStore()
    const server = await node(t, { sessionStore: store, sessionBudget: { unackedSessionTimeout: 5000 } }, { reliable: { sessionTimeout: 60_000 } })
    const lifetimes: Record<string, number> = {}
    for (const [i, kind] of ['silent', 'sent', 'acked'].entries()) {
      const peer = await server.peer()
      const welcome = await peer.handshake()
      await waitFor(() => server.connections.length === i + 1, 'the connection')
      const connection = server.connections[i]
      if (kind === 'sent') {
        peer.sendData(1, 'from the client')
        await peer.nextOfType('A')
      }
      if (kind === 'acked') {
        void connection.send('to the client').catch(() => {})
        await peer.nextOfType('D')
        peer.sendAck(1)
        // A ping answered proves the ack was read first.
        peer.sendPing('after-ack')
        await peer.nextOfType('pong')
      }
      peer.socket.close(4000, 'away')
      await waitFor(() => store.releases.some((r) => r.sessionId === welcome.sessionId), 'the release')
      lifetimes[kind] = store.releases.find((r) => r.sessionId === welcome.sessionId)?.timeout ?? -1
    }
    assert.deepEqual(lifetimes, { silent: 5000, sent: 60_000, acked: 60_000 })
  })

  test('a failed release is logged at error with the session tag, and the session stays suspended', TIMEOUT, async (t) => {
    const store = faultyStore(new MemorySessionStore())
    const server = await node(t, { sessionStore: store })
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the connection')
    store.failNext('release', new Error('release refused'))
    peer.socket.close(4000, 'away')
    await waitFor(() => server.lines.some((l) => l.msg === 'session store release failed'), 'the log line')
    const line = server.lines.find((l) => l.msg === 'session store release failed')
    assert.equal(line?.level, LogLevel.error)
    assert.equal(line?.session, server.connections[0].sessionTag)
    assert.equal((line?.err as { message?: string } | undefined)?.message, 'release refused')
    assert.equal(server.connections[0].isEnded, false)
  })

  for (const [name, budget, sessionTimeout, acks, limit, after] of [
    ['a session that never acked, with unackedSessionTimeout below sessionTimeout', 150, 60_000, false, 'unackedSessionTimeout', 150],
    ['a session that never acked, with unackedSessionTimeout equal to sessionTimeout', 200, 200, false, 'sessionTimeout', 200],
    ['a session that acked', 150, 300, true, 'sessionTimeout', 300]
  ] as const) {
    test(`expiry of ${name}: the close reports the suspending code and names ${limit}`, TIMEOUT, async (t) => {
      const store = new RecordingStore()
      const server = await node(t, { sessionStore: store, sessionBudget: { unackedSessionTimeout: budget } }, { reliable: { sessionTimeout } })
      const peer = await server.peer()
      const welcome = await peer.handshake()
      await waitFor(() => server.connections.length === 1, 'the connection')
      const connection = server.connections[0]
      if (acks) {
        peer.sendData(1, 'hello')
        await peer.nextOfType('A')
      }
      const started = Date.now()
      peer.socket.close(4000, 'away')
      await waitFor(() => connection.isEnded, 'the expiry', 10_000)
      assert.ok(Date.now() - started >= after - 20, `not before ${after} ms`)
      assert.deepEqual(server.closes, [{ code: 4000, reason: 'away', cause: 'expired' }])
      const line = server.lines.find((l) => l.msg === 'reliable session expired')
      assert.ok(line !== undefined)
      assert.equal(line.level, LogLevel.info)
      assert.equal(line.limit, limit)
      assert.equal(line.session, connection.sessionTag)
      await waitFor(() => store.deletes.some((d) => d.sessionId === welcome.sessionId), 'the delete')
    })
  }

  test('a shed session closes with 4507 "session budget exceeded", logged and published with its limit', TIMEOUT, async (t) => {
    const hits = record(t, CHANNEL_NAMES.limitHit)
    const server = await node(t, { sessionBudget: { maxSuspended: 1 } })
    const first = await server.peer()
    const welcome = await first.handshake()
    const second = await server.peer()
    await second.handshake()
    await waitFor(() => server.connections.length === 2, 'both connections')
    first.socket.close(4000, 'away')
    await waitFor(() => !server.connections[0].isAttached, 'the first suspend')
    second.socket.close(4000, 'away')
    await waitFor(() => server.connections[0].isEnded, 'the shed of the oldest suspended session')
    assert.deepEqual(server.closes[0], { code: 4507, reason: 'session budget exceeded', cause: 'shed' })
    const line = server.lines.find((l) => l.msg === 'reliable session shed: session budget exceeded')
    assert.ok(line !== undefined)
    assert.equal(line.level, LogLevel.warn)
    assert.equal(line.limit, 'maxSuspended')
    assert.equal(line.attached, false)
    assert.equal(line.session, server.connections[0].sessionTag)
    assert.equal(typeof line.heldBytes, 'number')
    assert.ok(hits.some((h) => h.code === 4507 && h.limit === 'maxSuspended'))
    assert.equal(server.connections[1].isEnded, false)
    // A shed session is gone: a resume starts afresh.
    const again = await server.peer()
    assert.equal((await again.handshake(resumeOf(welcome))).resumed, false)
  })

  test('an attached session resumed on another node closes with 4409 when it next writes, and leaves the record to that node', TIMEOUT, async (t) => {
    const store: SessionStore = new RecordingStore()
    const nodeA = await node(t, { sessionStore: store })
    const nodeB = await node(t, { sessionStore: store })
    const peer = await nodeA.peer()
    const welcome = await peer.handshake()
    await waitFor(() => nodeA.connections.length === 1, 'the connection on A')
    const taker = await nodeB.peer()
    const resumed = await taker.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)
    const old = nodeA.connections[0]
    const lost = old.send('written on A after the resume on B')
    lost.catch(() => {})
    const closed = await peer.closed(5000)
    assert.equal(closed.code, 4409)
    await waitFor(() => old.isEnded, 'the end on A')
    assert.equal(nodeA.closes[0].cause, 'replaced')
    assert.equal(nodeA.closes[0].code, 4409)
    const line = nodeA.lines.find((l) => l.msg === 'reliable session resumed elsewhere')
    assert.ok(line !== undefined)
    assert.equal(line.session, old.sessionTag)
    await assert.rejects(lost, /replaced/)
    assert.notEqual(await store.get(welcome.sessionId), undefined, 'the record stays with node B')
    assert.equal((store as RecordingStore).deletes.length, 0)
    // Node B carries on with it.
    taker.sendData(1, 'on B')
    assert.equal((await taker.nextOfType('A')).raw, 'A1')
  })

  test('a suspended session resumed on another node ends as replaced ("session replaced") when it next writes', TIMEOUT, async (t) => {
    const store = new RecordingStore()
    const nodeA = await node(t, { sessionStore: store })
    const nodeB = await node(t, { sessionStore: store })
    const peer = await nodeA.peer()
    const welcome = await peer.handshake()
    await waitFor(() => nodeA.connections.length === 1, 'the connection on A')
    const old = nodeA.connections[0]
    peer.socket.close(4000, 'away')
    await waitFor(() => store.releases.length === 1, 'the release on A')
    const taker = await nodeB.peer()
    assert.equal((await taker.handshake(resumeOf(welcome))).resumed, true)
    const lost = old.send('written on A while suspended')
    lost.catch(() => {})
    await waitFor(() => old.isEnded, 'the end on A')
    assert.deepEqual(nodeA.closes, [{ code: 4409, reason: 'session replaced', cause: 'replaced' }])
    assert.equal(store.deletes.length, 0)
    assert.notEqual(await store.get(welcome.sessionId), undefined)
  })

  test('the end fails pending sends and server requests with the cause, and shutdown releases the record for sessionTimeout', TIMEOUT, async (t) => {
    const store = new RecordingStore()
    const server = await node(t, { sessionStore: store, sessionBudget: { unackedSessionTimeout: 5000 } }, { reliable: { sessionTimeout: 45_000 } })
    const peer = await server.peer()
    const welcome = await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the connection')
    const connection = server.connections[0]
    const pendingSend = connection.send('never acked')
    const pendingRequest = connection.request('never answered')
    pendingSend.catch(() => {})
    pendingRequest.catch(() => {})
    await peer.nextOfType('Q')
    await server.close()
    for (const pending of [pendingSend, pendingRequest]) {
      await assert.rejects(pending, (error: Error & { code?: string }) => {
        assert.equal(error.code, 'FRWS_ERR_SESSION_ENDED')
        assert.match(error.message, /\(shutdown\)/)
        return true
      })
    }
    assert.equal(server.closes[0].cause, 'shutdown')
    assert.deepEqual(store.releases.map((r) => r.timeout), [45_000], 'released for sessionTimeout, the client may resume elsewhere')
    assert.equal(store.deletes.length, 0)
    const kept = await store.get(welcome.sessionId)
    assert.equal(kept?.serverSeq, 2, 'what was sent before the shutdown reached the store')
  })

  test('a claim announced by another node closes the attached session there with 4409 at once', TIMEOUT, async (t) => {
    const store = new RecordingStore()
    const bus = new Bus()
    const nodeA = await node(t, { sessionStore: store, fanout: bus.fanout() })
    const nodeB = await node(t, { sessionStore: store, fanout: bus.fanout() })
    const peer = await nodeA.peer()
    const welcome = await peer.handshake()
    await waitFor(() => nodeA.connections.length === 1, 'the connection on A')
    const taker = await nodeB.peer()
    assert.equal((await taker.handshake(resumeOf(welcome))).resumed, true)
    assert.equal((await peer.closed(5000)).code, 4409)
    await waitFor(() => nodeA.connections[0].isEnded, 'the end on A')
    assert.equal(nodeA.closes[0].cause, 'replaced')
    assert.ok(nodeA.lines.some((l) => l.msg === 'reliable session resumed elsewhere'))
    assert.equal(store.deletes.length, 0)
    taker.sendData(1, 'on B')
    assert.equal((await taker.nextOfType('A')).raw, 'A1')
  })

  test('a claim announced by another node ends a suspended session there as replaced, without a write', TIMEOUT, async (t) => {
    const store = new RecordingStore()
    const bus = new Bus()
    const nodeA = await node(t, { sessionStore: store, fanout: bus.fanout() })
    const nodeB = await node(t, { sessionStore: store, fanout: bus.fanout() })
    const peer = await nodeA.peer()
    const welcome = await peer.handshake()
    await waitFor(() => nodeA.connections.length === 1, 'the connection on A')
    peer.socket.close(4000, 'away')
    await waitFor(() => store.releases.length === 1, 'the release on A')
    const taker = await nodeB.peer()
    assert.equal((await taker.handshake(resumeOf(welcome))).resumed, true)
    await waitFor(() => nodeA.connections[0].isEnded, 'the end on A')
    assert.deepEqual(nodeA.closes, [{ code: 4409, reason: 'session replaced', cause: 'replaced' }])
    assert.equal(nodeA.lines.filter((l) => l.msg === 'reliable session resumed elsewhere').length, 1, 'once')
    assert.equal(store.deletes.length, 0)
  })

  test('with maxSuspended 0 a dropped session is shed at once and never reported as suspended', TIMEOUT, async (t) => {
    const suspends = record(t, CHANNEL_NAMES.sessionSuspend)
    const server = await node(t, { sessionBudget: { maxSuspended: 0 } })
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the connection')
    peer.socket.close(4000, 'away')
    await waitFor(() => server.connections[0].isEnded, 'the shed')
    assert.deepEqual(server.events, ['close:4507:shed'])
    assert.equal(suspends.length, 0)
    assert.equal(server.lines.some((l) => l.msg === 'reliable session suspended'), false)
  })
})
