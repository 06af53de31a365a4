/**
 * Every diagnostics channel fires with its documented shape (docs/METRICS.md), on real sockets.
 */
import { afterEach, beforeEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import { CloseCode, MemorySessionStore } from '../../lib/index.js'
import type { FastifyReliableWsOptions, WsRouteOptions } from '../../lib/index.js'
import { serverIdOf } from '../../lib/metrics/server-ids.js'
import {
  SINGLE_ADDRESS_LOAD, buildApp, cleanup, closed, connect, echoRoute, listen, nextMessage, openClient, refusedStatus, waitFor, withExpiry
} from '../helpers/server.js'
import { dropSession, openRawSession } from '../helpers/raw-session.js'
import { recordChannels } from './recorder.js'
import type { ChannelRecorder } from './recorder.js'

let recorder: ChannelRecorder
beforeEach(() => { recorder = recordChannels() })
afterEach(() => recorder.stop())

async function start (
  options: FastifyReliableWsOptions, setup: (app: FastifyInstance) => void
): Promise<{ app: FastifyInstance, url: string, serverId: string }> {
  const app = await buildApp(options, setup)
  const url = await listen(app)
  const serverId = serverIdOf(app.wsConnections)
  assert.ok(serverId !== undefined)
  return { app, url, serverId }
}

/** A reliable route at `/r` that greets every new session. */
function reliableRoute (app: FastifyInstance, options: WsRouteOptions = {}): void {
  app.wsRoute('/r', { ...options, reliable: true }, (connection) => {
    void connection.send('welcome aboard')
  })
}

describe('diagnostics channels on a plain route', () => {
  test('open, message in, message out and close carry the documented fields', async (t) => {
    const { app, url, serverId } = await start({}, (app) => echoRoute(app))
    t.after(() => cleanup(app))
    const client = await connect(`${url}/ws`)
    client.send('héllo')
    assert.equal((await nextMessage(client)).data, 'héllo')
    client.close(4001, 'bye')
    await waitFor(() => recorder.of('connectionClose').length === 1, 'the close message')

    const [open] = recorder.of('connectionOpen')
    const connectionId = open.connectionId as string
    assert.ok(connectionId.startsWith(`${serverId}.`), 'connection ids carry the server id as their prefix')
    assert.deepEqual(open, { serverId, connectionId, route: '/ws', reliable: false, resumed: false })
    assert.deepEqual(recorder.of('messageIn'), [{ serverId, connectionId, route: '/ws', bytes: 6 }])
    assert.deepEqual(recorder.of('messageOut'), [{ serverId, connectionId, route: '/ws', bytes: 6 }])
    assert.deepEqual(recorder.of('connectionClose'), [
      { serverId, connectionId, route: '/ws', reliable: false, code: 4001, reason: 'bye', cause: 'client' }
    ])
    assert.deepEqual(recorder.order, ['connectionOpen', 'messageIn', 'messageOut', 'connectionClose'])
  })

  test('a pong publishes the round trip; a peer that never answers publishes a pong timeout', async (t) => {
    const { app, url, serverId } = await start({}, (app) => {
      app.wsRoute('/ws', { heartbeat: { pingInterval: 20, pongTimeout: 5000 } }, () => {})
      app.wsRoute('/mute', { heartbeat: { pingInterval: 20, pongTimeout: 50 } }, () => {})
    })
    t.after(() => cleanup(app))
    const started = performance.now()
    const answering = await openClient(`${url}/ws`)
    t.after(() => answering.socket.terminate())
    await waitFor(() => recorder.of('heartbeatRtt').length > 0, 'a round trip', 5000)
    const [sample] = recorder.of('heartbeatRtt')
    const open = recorder.of('connectionOpen')[0]
    assert.deepEqual(Object.keys(sample).sort(), ['connectionId', 'route', 'rtt', 'serverId'])
    assert.equal(sample.connectionId, open.connectionId)
    assert.equal(sample.route, '/ws')
    assert.equal(sample.serverId, serverId)
    const rtt = sample.rtt as number
    assert.ok(rtt >= 0 && rtt <= performance.now() - started, `rtt ${rtt} ms`)

    const mute = await openClient(`${url}/mute`, { autoPong: false })
    assert.equal((await withExpiry(mute.closed, 5000, 'the termination')).code, 1006)
    await waitFor(() => recorder.of('heartbeatTimeout').length === 1, 'the timeout message')
    const [timeout] = recorder.of('heartbeatTimeout')
    assert.equal(timeout.route, '/mute')
    assert.equal(timeout.timeout, 'pong')
    await waitFor(() => recorder.of('connectionClose').length === 1, 'the close message')
    assert.deepEqual(recorder.of('connectionClose')[0], {
      serverId, connectionId: timeout.connectionId, route: '/mute', reliable: false, code: 1006, reason: '', cause: 'timeout'
    })
  })

  test('an idle connection publishes an idle timeout', async (t) => {
    const { app, url } = await start({}, (app) => {
      app.wsRoute('/ws', { heartbeat: false, idleTimeout: 50 }, () => {})
    })
    t.after(() => cleanup(app))
    const client = await connect(`${url}/ws`)
    assert.equal((await closed(client, 5000)).code, CloseCode.IDLE_TIMEOUT)
    assert.deepEqual(recorder.of('heartbeatTimeout').map((m) => [m.route, m.timeout]), [['/ws', 'idle']])
  })

  test('the rate limit publishes a 4429 limit hit', async (t) => {
    const { app, url, serverId } = await start({}, (app) => {
      app.wsRoute('/ws', { rateLimit: { messagesPerSecond: 1, burstSeconds: 1 } }, (connection) => {
        connection.on('message', () => {})
      })
    })
    t.after(() => cleanup(app))
    const client = await connect(`${url}/ws`)
    for (let i = 0; i < 5; i++) client.send('flood')
    assert.equal((await closed(client, 5000)).code, CloseCode.RATE_LIMITED)
    const connectionId = recorder.of('connectionOpen')[0].connectionId
    assert.deepEqual(recorder.of('limitHit'), [{ serverId, connectionId, route: '/ws', code: 4429, limit: 'rateLimit' }])
  })

  test('a slow consumer publishes a 4420 limit hit', async (t) => {
    const { app, url, serverId } = await start({}, (app) => {
      app.wsRoute('/ws', { maxBufferedBytes: 64 * 1024 }, (connection) => {
        const chunk = Buffer.alloc(16 * 1024)
        // Writes until the cut: the client below reads nothing.
        const pump = (): void => { if (connection.isOpen) { void connection.send(chunk).catch(() => {}); setImmediate(pump) } }
        pump()
      })
    })
    t.after(() => cleanup(app))
    const client = new WebSocket(`${url}/ws`)
    t.after(() => client.terminate())
    await new Promise((resolve) => client.once('upgrade', resolve))
    // Stop reading at the TCP level: the server's buffer fills.
    ;(client as unknown as { _socket: { pause: () => void } })._socket.pause()
    await waitFor(() => recorder.of('limitHit').length === 1, 'the limit hit', 10_000)
    const [hit] = recorder.of('limitHit')
    assert.equal(hit.serverId, serverId)
    assert.equal(hit.code, CloseCode.SLOW_CONSUMER)
    assert.ok(hit.limit === 'maxBufferedBytes' || hit.limit === 'drainTimeout', String(hit.limit))
  })

  test('the per-address connection limit publishes its refusal', async (t) => {
    const { app, url, serverId } = await start({ maxConnectionsPerAddress: 1 }, (app) => echoRoute(app))
    t.after(() => cleanup(app))
    const first = await connect(`${url}/ws`)
    t.after(() => first.terminate())
    assert.equal(await refusedStatus(`${url}/ws`), 503)
    assert.deepEqual(recorder.of('admissionRefused'), [{ serverId, route: '/ws', statusCode: 503, limit: 'maxConnectionsPerAddress' }])
  })

  test('admission refusals publish their status and limit', async (t) => {
    const { app, url, serverId } = await start({ maxConnections: 1, upgradeRate: { perAddress: 3, interval: 60_000 } }, (app) => echoRoute(app))
    t.after(() => cleanup(app))
    const first = await connect(`${url}/ws`)
    assert.equal(await refusedStatus(`${url}/ws`), 503)
    assert.equal(await refusedStatus(`${url}/ws`), 503)
    assert.equal(await refusedStatus(`${url}/ws`), 429)
    first.terminate()
    assert.deepEqual(recorder.of('admissionRefused'), [
      { serverId, route: '/ws', statusCode: 503, limit: 'maxConnections' },
      { serverId, route: '/ws', statusCode: 503, limit: 'maxConnections' },
      { serverId, route: '/ws', statusCode: 429, limit: 'upgradeRate' }
    ])
  })
})

describe('diagnostics channels on a reliable route', () => {
  test('suspend, resume, refusals, continuity lost and end, with their outcomes', async (t) => {
    const { app, url, serverId } = await start(SINGLE_ADDRESS_LOAD, (app) => reliableRoute(app))
    t.after(() => cleanup(app))
    const first = await openRawSession(`${url}/r`)
    await first.waitFrames(1)
    await dropSession(first)
    await waitFor(() => recorder.of('sessionSuspend').length === 1, 'the suspension')
    const [open] = recorder.of('connectionOpen')
    const connectionId = open.connectionId
    const base = { serverId, connectionId, route: '/r' }
    assert.deepEqual(open, { ...base, reliable: true, resumed: false })
    assert.equal(recorder.of('messageOut')[0].connectionId, connectionId)
    assert.deepEqual(recorder.of('connectionClose'), [{ ...base, reliable: true, code: 1006, reason: '', cause: 'client' }])
    assert.deepEqual(recorder.of('sessionSuspend'), [{ ...base, code: 1006, cause: 'client' }])

    // A wrong resume token: refused with 4403, the session stays suspended.
    const wrongToken = { ...first.resumeInfo(), token: 'A'.repeat(43) }
    await assert.rejects(openRawSession(`${url}/r`, wrongToken), /4403/)
    const second = await openRawSession(`${url}/r`, first.resumeInfo())
    assert.equal(second.welcome.resumed, true)
    assert.deepEqual(recorder.of('sessionResume'), [{ ...base, fromStore: false }])
    assert.deepEqual(recorder.of('connectionOpen')[1], { ...base, reliable: true, resumed: true })

    // An unknown session: a new one, and the client is told (continuity lost).
    const stranger = await openRawSession(`${url}/r`, { ...first.resumeInfo(), sessionId: 'unknown-session' })
    assert.equal(stranger.welcome.resumed, false)
    assert.deepEqual(recorder.of('resumeOutcome'), [
      { serverId, route: '/r', outcome: 'refused', code: CloseCode.RESUME_REFUSED },
      { serverId, route: '/r', outcome: 'resumed', code: undefined },
      { serverId, route: '/r', outcome: 'continuity_lost', code: undefined }
    ])
    stranger.socket.terminate()

    // A resume while the session still has a socket: that socket is replaced (4409) and reported closed.
    const third = await openRawSession(`${url}/r`, { ...second.resumeInfo(), delivered: 1 })
    assert.equal(await second.closed, CloseCode.SESSION_REPLACED)
    const closesOfSession = (): Array<Record<string, unknown>> => recorder.of('connectionClose').filter((m) => m.connectionId === connectionId)
    assert.deepEqual(closesOfSession()[1], {
      ...base, reliable: true, code: CloseCode.SESSION_REPLACED, reason: 'session resumed on another connection', cause: 'replaced'
    })
    assert.equal(closesOfSession().length, 2, 'the replaced socket is reported once')

    third.socket.close(1000)
    await waitFor(() => recorder.of('sessionEnd').length === 1, 'the end of the session')
    assert.deepEqual(recorder.of('sessionEnd'), [{ ...base, code: 1000, reason: '', cause: 'client' }])
    assert.deepEqual(closesOfSession()[2], { ...base, reliable: true, code: 1000, reason: '', cause: 'client' })
  })

  test('a session taken over from a shared store publishes its resume from the store', async (t) => {
    const store = new MemorySessionStore()
    t.after(() => store.close())
    const nodeA = await start({ ...SINGLE_ADDRESS_LOAD, sessionStore: store }, (app) => reliableRoute(app))
    t.after(() => cleanup(nodeA.app))
    const nodeB = await start({ ...SINGLE_ADDRESS_LOAD, sessionStore: store }, (app) => reliableRoute(app))
    t.after(() => cleanup(nodeB.app))
    const session = await openRawSession(`${nodeA.url}/r`)
    await session.waitFrames(1)
    await dropSession(session)
    await waitFor(() => recorder.of('sessionSuspend').length === 1, 'the suspension on node A')
    const resumed = await openRawSession(`${nodeB.url}/r`, session.resumeInfo())
    t.after(() => resumed.socket.terminate())
    assert.equal(resumed.welcome.resumed, true)
    const opened = recorder.of('connectionOpen').filter((m) => m.serverId === nodeB.serverId)
    assert.deepEqual(opened.map((m) => [m.reliable, m.resumed]), [[true, true]])
    assert.deepEqual(recorder.of('sessionResume'), [{ serverId: nodeB.serverId, connectionId: opened[0].connectionId, route: '/r', fromStore: true }])
    assert.deepEqual(recorder.of('resumeOutcome'), [{ serverId: nodeB.serverId, route: '/r', outcome: 'resumed', code: undefined }])
  })

  test('an overflowing session buffer publishes a 4413 limit hit', async (t) => {
    const { app, url, serverId } = await start(SINGLE_ADDRESS_LOAD, (app) => {
      app.wsRoute('/r', { reliable: { maxUnacked: 2, ackEvery: 1 } }, (connection) => {
        for (let i = 0; i < 3; i++) void connection.send(`message ${i}`)
      })
    })
    t.after(() => cleanup(app))
    const session = await openRawSession(`${url}/r`)
    assert.equal(await session.closed, CloseCode.BUFFER_OVERFLOW)
    const connectionId = recorder.of('connectionOpen')[0].connectionId
    assert.deepEqual(recorder.of('limitHit'), [{ serverId, connectionId, route: '/r', code: CloseCode.BUFFER_OVERFLOW, limit: 'maxUnacked' }])
  })

  test('the session budget publishes a 4507 limit hit when it sheds a session', async (t) => {
    const { app, url, serverId } = await start({ ...SINGLE_ADDRESS_LOAD, sessionBudget: { maxSuspended: 0 } }, (app) => reliableRoute(app))
    t.after(() => cleanup(app))
    const session = await openRawSession(`${url}/r`)
    await dropSession(session)
    await waitFor(() => recorder.of('sessionEnd').length === 1, 'the end of the session')
    const connectionId = recorder.of('connectionOpen')[0].connectionId
    assert.deepEqual(recorder.of('limitHit'), [{ serverId, connectionId, route: '/r', code: CloseCode.SESSION_SHED, limit: 'maxSuspended' }])
    assert.equal(recorder.of('sessionEnd')[0].cause, 'shed')
    assert.deepEqual(recorder.of('sessionSuspend'), [], 'a session shed at once is never reported suspended')
  })
})
