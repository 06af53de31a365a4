/**
 * The outgoing side of a reliable session (lib/reliable/session-sender.ts) seen from a hand-written
 * protocol peer: the maxPayload bound at its edge and how a refusal is logged and answered, the
 * overflow limits named in the log and the metrics, send timeouts, sends after the end, and what a
 * resume replays. Written from the survivors of its mutation run (docs/TESTING.md).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import diagnosticsChannel from 'node:diagnostics_channel'
import type { FastifyReliableWsOptions, ReliableConnection, WsRouteOptions } from '../../lib/index.js'
import { CHANNEL_NAMES } from '../../lib/metrics/channels.js'
import { MemorySessionStore } from '../../lib/index.js'
import { MESSAGE_OVERHEAD, SESSION_OVERHEAD } from '../../lib/reliable/session-budget.js'
import { buildApp, captureLogs, cleanup, listen, LogLevel, waitFor } from '../helpers/server.js'
import type { LogLine } from '../helpers/server.js'
import { openPeer, payloadOf, resumeOf } from '../helpers/protocol-peer.js'
import type { ProtocolPeer } from '../helpers/protocol-peer.js'

const TIMEOUT = { timeout: 30_000 }

interface Rig {
  url: string
  lines: LogLine[]
  connections: ReliableConnection[]
  peer: ProtocolPeer
}

async function rig (
  t: { after: (fn: () => unknown) => void },
  plugin: FastifyReliableWsOptions,
  route: WsRouteOptions = { reliable: true },
  setup?: (connection: ReliableConnection) => void
): Promise<Rig> {
  const { stream, lines } = captureLogs()
  const connections: ReliableConnection[] = []
  const app = await buildApp(plugin, (instance) => {
    instance.wsRoute('/r', route, (connection) => {
      connections.push(connection as ReliableConnection)
      setup?.(connection as ReliableConnection)
    })
  }, { logger: { level: 'debug', stream } })
  t.after(() => cleanup(app))
  const url = `${await listen(app)}/r`
  const peer = await openPeer(url)
  t.after(() => peer.terminate())
  return { url, lines, connections, peer }
}

/** Records what a diagnostics channel publishes while the test runs. */
function record (t: { after: (fn: () => unknown) => void }, name: string): unknown[] {
  const seen: unknown[] = []
  const listener = (message: unknown): void => { seen.push(message) }
  diagnosticsChannel.subscribe(name, listener)
  t.after(() => diagnosticsChannel.unsubscribe(name, listener))
  return seen
}

describe('SessionSender (mutation survivors)', () => {
  test('sends a frame of exactly maxPayload bytes; one byte more is refused, logged at warn with its size, and takes no seq', TIMEOUT, async (t) => {
    const { connections, lines, peer } = await rig(t, { maxPayload: 100 })
    await peer.handshake()
    await waitFor(() => connections.length === 1, 'the connection')
    const connection = connections[0]
    const exact = 'x'.repeat(97)
    const delivered = connection.send(exact)
    const first = await peer.nextOfType('D')
    assert.equal(first.raw, `D1:${exact}`, 'D1: and 97 bytes make 100')
    peer.sendAck(1)
    await delivered
    await assert.rejects(connection.send('y'.repeat(98)), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FRWS_ERR_MESSAGE_TOO_BIG')
      assert.equal(error.message, 'The frame of 101 bytes exceeds maxPayload (100 bytes); it was not sent')
      return true
    })
    void connection.send('z')
    const next = await peer.next()
    assert.equal(next.raw, 'D2:z', 'no error response for a data frame, and the refused frame took no seq')
    const warning = lines.find((line) => line.msg === 'reliable frame over maxPayload not sent')
    assert.ok(warning !== undefined, 'the refusal is logged')
    assert.equal(warning.level, LogLevel.warn)
    assert.equal(warning.session, connection.sessionTag)
    assert.equal(warning.size, 101)
    assert.equal(warning.maxPayload, 100)
  })

  test('a response over maxPayload is replaced by an error response that gives both sizes', TIMEOUT, async (t) => {
    const { connections, peer } = await rig(t, { maxPayload: 100 }, { reliable: true }, (connection) => {
      connection.on('request', (_payload, _isBinary, respond) => { respond('r'.repeat(200)) })
    })
    await peer.handshake()
    peer.sendRequest(1, 'big?')
    const answer = await peer.nextOfType('E')
    assert.equal(answer.raw, 'E1,1:response of 205 bytes exceeds maxPayload 100')
    await waitFor(() => connections.length === 1, 'the connection')
    assert.equal(peer.pending().filter((entry) => !(entry.frame instanceof Error) && entry.frame.type === 'R').length, 0, 'no response frame')
  })

  for (const [limit, plugin, route] of [
    ['maxUnacked', {}, { reliable: { maxUnacked: 2, ackEvery: 1 } }],
    ['maxSessionBytes', { sessionBudget: { maxSessionBytes: 40_000, maxTotalBytes: 1024 * 1024 } }, { reliable: true }]
  ] as const) {
    test(`a send past ${limit} closes with 4413, logs and publishes that limit, and rejects as an overflow`, TIMEOUT, async (t) => {
      const hits = record(t, CHANNEL_NAMES.limitHit)
      const { connections, lines, peer } = await rig(t, plugin, route)
      await peer.handshake()
      await waitFor(() => connections.length === 1, 'the connection')
      const connection = connections[0]
      // A session costs some 12 KiB before its first message: two of these fit in 40,000 bytes, not three.
      const payload = limit === 'maxUnacked' ? 'small' : 'b'.repeat(12_000)
      const sends: Array<Promise<void>> = []
      let overflow: Promise<void> | undefined
      for (let i = 0; i < 3 && overflow === undefined; i++) {
        const sent = connection.send(payload)
        sent.catch(() => {})
        if (i === 2) overflow = sent
        else sends.push(sent)
      }
      assert.ok(overflow !== undefined)
      await assert.rejects(overflow, (error: Error & { code?: string }) => {
        assert.equal(error.code, 'FRWS_ERR_SESSION_ENDED')
        assert.match(error.message, /\(overflow\)/)
        return true
      })
      const closed = await peer.closed(5000)
      assert.equal(closed.code, 4413)
      const line = lines.find((entry) => entry.msg === 'reliable session buffer overflow')
      assert.ok(line !== undefined)
      assert.equal(line.level, LogLevel.warn)
      assert.equal(line.limit, limit)
      assert.equal(line.session, connection.sessionTag)
      assert.equal(line.unacked, sends.length)
      assert.equal(typeof line.bytes, 'number')
      assert.ok((line.bytes as number) > 0)
      assert.ok((line.heldBytes as number) > 0)
      assert.ok(hits.some((hit) => (hit as { code: number, limit: string }).code === 4413 && (hit as { limit: string }).limit === limit), `limit:hit ${limit}`)
      for (const sent of sends) await assert.rejects(sent, /ended/)
    })
  }

  test('a send with a timeout rejects with FRWS_ERR_SEND_TIMEOUT when no ack comes, and resolves when one does', TIMEOUT, async (t) => {
    const { connections, peer } = await rig(t, {})
    await peer.handshake()
    await waitFor(() => connections.length === 1, 'the connection')
    const connection = connections[0]
    const started = Date.now()
    await assert.rejects(connection.send('never acked', { timeout: 40 }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FRWS_ERR_SEND_TIMEOUT')
      assert.equal(error.message, 'The message was not acknowledged within 40 ms')
      return true
    })
    assert.ok(Date.now() - started >= 35)
    assert.equal((await peer.nextOfType('D')).raw, 'D1:never acked')
    const acked = connection.send('acked', { timeout: 60_000 })
    const frame = await peer.nextOfType('D')
    assert.equal(payloadOf(frame), 'acked')
    peer.sendAck(2)
    await acked
  })

  test('a send after the session ended rejects at once as closed', TIMEOUT, async (t) => {
    const { connections, peer } = await rig(t, {})
    await peer.handshake()
    await waitFor(() => connections.length === 1, 'the connection')
    const connection = connections[0]
    connection.close()
    await peer.closed()
    await waitFor(() => connection.isEnded, 'the end of the session')
    await assert.rejects(connection.send('late'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FRWS_ERR_SESSION_ENDED')
      assert.match(error.message, /\(closed\)/)
      return true
    })
  })

  test('a resume replays what the client lacks after its position, publishes each replayed frame, and keeps acking', TIMEOUT, async (t) => {
    const out = record(t, CHANNEL_NAMES.messageOut)
    const store = new MemorySessionStore()
    const { connections, peer, url } = await rig(t, { sessionStore: store })
    const welcome = await peer.handshake()
    await waitFor(() => connections.length === 1, 'the connection')
    const connection = connections[0]
    for (const text of ['one', 'two', 'three']) void connection.send(text)
    for (let i = 0; i < 3; i++) await peer.nextOfType('D')
    const publishedLive = out.length
    assert.ok(publishedLive >= 3, 'each live frame is published')
    peer.terminate()
    await waitFor(() => !connection.isAttached, 'the suspend')
    const again = await openPeer(url)
    t.after(() => again.terminate())
    await again.handshake(resumeOf(welcome, 1))
    const replayed = [await again.nextOfType('D'), await again.nextOfType('D')]
    assert.deepEqual(replayed.map((entry) => entry.raw), ['D2:two', 'D3:three'])
    assert.ok(out.length >= publishedLive + 2, 'each replayed frame is published')
    const bytes = out.slice(publishedLive).map((message) => (message as { bytes: number }).bytes)
    assert.ok(bytes.includes('D2:two'.length) && bytes.includes('D3:three'.length))
    // The resume acknowledged the first message in the store.
    await waitFor(() => connection.isAttached, 'the resume')
    const published = out.length
    // The session goes on: data from the client is acknowledged on the new socket, and the ack is published.
    again.sendData(1, 'hi')
    const ack = await again.nextOfType('A')
    assert.equal(ack.raw, 'A1')
    assert.ok(out.slice(published).some((message) => (message as { bytes: number }).bytes === 2), 'the ack A1 (2 bytes) is published')
    const stored = await store.get(welcome.sessionId)
    assert.equal(stored?.serverAcked, 1, 'the position of the resume reached the store')
    assert.deepEqual(stored?.messages.map((m) => m.seq), [2, 3])
  })

  test('a send that makes the session hold exactly maxSessionBytes is sent; one byte more overflows', TIMEOUT, async (t) => {
    // The first message of a session of text payload p (ASCII, under 1,024 units) holds
    // SESSION_OVERHEAD + ('D1:' + p) + MESSAGE_OVERHEAD bytes.
    const maxSessionBytes = 14_000
    const fitting = maxSessionBytes - SESSION_OVERHEAD - MESSAGE_OVERHEAD - 'D1:'.length
    for (const [extra, overflows] of [[0, false], [1, true]] as const) {
      const { connections, peer } = await rig(t, { sessionBudget: { maxSessionBytes, maxTotalBytes: 1024 * 1024 } })
      await peer.handshake()
      await waitFor(() => connections.length === 1, 'the connection')
      const sent = connections[0].send('p'.repeat(fitting + extra))
      sent.catch(() => {})
      if (overflows) {
        await assert.rejects(sent, /\(overflow\)/)
        assert.equal((await peer.closed(5000)).code, 4413)
      } else {
        const frame = await peer.nextOfType('D')
        assert.equal(payloadOf(frame), 'p'.repeat(fitting))
        peer.sendAck(1)
        await sent
      }
    }
  })

  test('a send that fits under maxTotalBytes sheds no suspended session', TIMEOUT, async (t) => {
    // One suspended and one attached session without messages hold 2 x SESSION_OVERHEAD; the send
    // below adds 1,127 bytes and fits. Asking the budget for more than the send adds would shed the
    // suspended session, and this one too.
    const maxTotalBytes = 2 * SESSION_OVERHEAD + 1500
    const { connections, lines, peer, url } = await rig(t, { sessionBudget: { maxSessionBytes: 20_000, maxTotalBytes } })
    await peer.handshake()
    await waitFor(() => connections.length === 1, 'the first connection')
    peer.socket.close(4000, 'away')
    await waitFor(() => !connections[0].isAttached, 'the suspend')
    const second = await openPeer(url)
    t.after(() => second.terminate())
    await second.handshake()
    await waitFor(() => connections.length === 2, 'the second connection')
    const payload = 'q'.repeat(1127 - MESSAGE_OVERHEAD - 'D1:'.length)
    const sent = connections[1].send(payload)
    sent.catch(() => {})
    assert.equal(payloadOf(await second.nextOfType('D')), payload)
    second.sendAck(1)
    await sent
    assert.equal(connections[0].isEnded, false, 'the suspended session is kept')
    assert.equal(connections[1].isEnded, false)
    assert.equal(lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('reliable session shed')), false)
  })
})
