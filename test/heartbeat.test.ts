import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type { CloseInfo } from '../lib/index.js'
import { buildApp, delay, listen, openClient, waitFor, withExpiry } from './helpers/server.js'
import { createFaultProxy } from '../lib/testing/index.js'

const PING_INTERVAL = 200
const PONG_TIMEOUT = 200

/** An app whose echo route records each connection's close info. */
async function heartbeatApp (options: Parameters<typeof buildApp>[0] = {}): Promise<{ app: FastifyInstance, closes: CloseInfo[] }> {
  const closes: CloseInfo[] = []
  const app = await buildApp({ heartbeat: { pingInterval: PING_INTERVAL, pongTimeout: PONG_TIMEOUT }, ...options }, (app) => {
    app.wsRoute('/ws', (connection) => {
      connection.on('message', (data) => { void connection.send(data) })
      connection.on('close', (info) => closes.push(info))
    })
  })
  return { app, closes }
}

describe('heartbeat on real sockets', () => {
  test('a peer whose network vanishes is terminated within pingInterval + pongTimeout plus one tick', async (t) => {
    const { app, closes } = await heartbeatApp()
    t.after(() => app.close())
    const url = await listen(app)
    const proxy = await createFaultProxy({ target: url })
    t.after(() => proxy.close())
    const client = await openClient(`${proxy.url}/ws`)
    t.after(() => client.socket.terminate())
    client.socket.send('last words')
    assert.equal(await client.next(), 'last words')

    proxy.blackhole()
    const vanishedAt = performance.now()
    await waitFor(() => closes.length === 1, 'the heartbeat to terminate the silent peer', 5000)
    const detection = performance.now() - vanishedAt

    const tick = app.wsHeartbeat.stats().tickInterval
    // Real timers fire late on a loaded machine; the bound itself is pingInterval + pongTimeout + tick.
    // One second of slack still fails a heartbeat that waits a whole default interval (25 s).
    const timerSlack = 1000
    assert.ok(detection <= PING_INTERVAL + PONG_TIMEOUT + tick + timerSlack,
      `detected after ${detection.toFixed(0)} ms, bound ${PING_INTERVAL + PONG_TIMEOUT + tick} ms`)
    assert.ok(detection >= PONG_TIMEOUT, `detected after ${detection.toFixed(0)} ms, before the pong window could pass`)
    assert.equal(closes[0].cause, 'timeout')
    assert.equal(closes[0].code, 1006)
    assert.equal(app.wsConnections.size, 0)
    assert.equal(app.wsHeartbeat.stats().terminated, 1)
  })

  test('a client that answers pings stays connected across many intervals', async (t) => {
    const { app, closes } = await heartbeatApp()
    t.after(() => app.close())
    const client = await openClient(`${await listen(app)}/ws`)
    t.after(() => client.socket.terminate())
    let pings = 0
    client.socket.on('ping', () => pings++)
    await delay(PING_INTERVAL * 6)
    assert.ok(pings >= 3, `only ${pings} pings in ${PING_INTERVAL * 6} ms`)
    assert.equal(client.socket.readyState, client.socket.OPEN)
    assert.equal(closes.length, 0)
    const stats = app.wsHeartbeat.stats()
    assert.equal(stats.terminated, 0)
    assert.equal(stats.pingsSent, pings)
    // The last pong may still be in flight when the stats are read.
    assert.ok(stats.pongsReceived >= pings - 1 && stats.pongsReceived <= pings)
    const [connection] = app.wsConnections
    assert.ok(connection.lastRtt !== undefined && connection.lastRtt >= 0)
  })

  test('a client whose pong handling is disabled is terminated and leaves the registry', async (t) => {
    const { app, closes } = await heartbeatApp()
    t.after(() => app.close())
    const client = await openClient(`${await listen(app)}/ws`, { autoPong: false })
    t.after(() => client.socket.terminate())
    const closed = await withExpiry(client.closed, 3000, 'the termination')
    assert.equal(closed.code, 1006)
    await waitFor(() => closes.length === 1, 'the close event')
    assert.equal(closes[0].cause, 'timeout')
    assert.equal(app.wsConnections.size, 0)
    assert.deepEqual(
      (({ pingsSent, pongsReceived, terminated }) => ({ pingsSent, pongsReceived, terminated }))(app.wsHeartbeat.stats()),
      { pingsSent: 1, pongsReceived: 0, terminated: 1 }
    )
  })

  test('a connection that carries traffic receives no pings', async (t) => {
    const { app } = await heartbeatApp()
    t.after(() => app.close())
    const client = await openClient(`${await listen(app)}/ws`)
    t.after(() => client.socket.terminate())
    let pings = 0
    client.socket.on('ping', () => pings++)
    const chatter = setInterval(() => client.socket.send('tick'), PING_INTERVAL / 4)
    t.after(() => clearInterval(chatter))
    await delay(PING_INTERVAL * 6)
    clearInterval(chatter)
    assert.equal(pings, 0)
    assert.equal(app.wsHeartbeat.stats().pingsSent, 0)
    // Once the chatter stops a ping comes: the heartbeat was running all along.
    await withExpiry(new Promise((resolve) => client.socket.once('ping', resolve)), 3000, 'a ping after the chatter stopped')
    assert.equal(client.socket.readyState, client.socket.OPEN)
  })

  test("the peer's own protocol pings count as proof of life: the server sends none while they flow", async (t) => {
    const { app } = await heartbeatApp()
    t.after(() => app.close())
    const client = await openClient(`${await listen(app)}/ws`)
    t.after(() => client.socket.terminate())
    let pings = 0
    client.socket.on('ping', () => pings++)
    let pongs = 0
    client.socket.on('pong', () => pongs++)
    const pinger = setInterval(() => client.socket.ping(), PING_INTERVAL / 4)
    t.after(() => clearInterval(pinger))
    await delay(PING_INTERVAL * 6)
    clearInterval(pinger)
    assert.ok(pongs >= 6, `the server answered only ${pongs} of the client's pings`)
    assert.equal(pings, 0)
    assert.equal(app.wsHeartbeat.stats().pingsSent, 0)
    // Once the client stops pinging a ping comes: the heartbeat was running all along.
    await withExpiry(new Promise((resolve) => client.socket.once('ping', resolve)), 3000, 'a ping after the client stopped pinging')
  })

  test("the peer's application pings (appPing) count as proof of life too: the server sends no protocol ping while they flow", async (t) => {
    const app = await buildApp({ heartbeat: { pingInterval: PING_INTERVAL, pongTimeout: PONG_TIMEOUT } }, (app) => {
      app.wsRoute('/ws', { appPing: true }, () => {})
    })
    t.after(() => app.close())
    const client = await openClient(`${await listen(app)}/ws`)
    t.after(() => client.socket.terminate())
    let pings = 0
    client.socket.on('ping', () => pings++)
    let pongs = 0
    client.socket.on('message', (data) => { if (String(data).startsWith('frws:pong:')) pongs++ })
    const pinger = setInterval(() => client.socket.send(`frws:ping:${pongs}`), PING_INTERVAL / 4)
    t.after(() => clearInterval(pinger))
    // Six ping intervals of answered application pings prove the time passed.
    await waitFor(() => pongs >= 24, 'the answers to 24 application pings', PING_INTERVAL * 40)
    clearInterval(pinger)
    assert.equal(pings, 0)
    assert.equal(app.wsHeartbeat.stats().pingsSent, 0)
    // Once the client stops pinging a ping comes: the heartbeat was running all along.
    await withExpiry(new Promise((resolve) => client.socket.once('ping', resolve)), 3000, 'a ping after the client stopped pinging')
  })

  test('heartbeat: false sends no pings at all, and idleTimeout still closes the idle connection with 4000', async (t) => {
    const idleTimeout = PING_INTERVAL * 3
    const { app, closes } = await heartbeatApp({ heartbeat: false, idleTimeout })
    t.after(() => app.close())
    const client = await openClient(`${await listen(app)}/ws`, { autoPong: false })
    t.after(() => client.socket.terminate())
    const opened = Date.now()
    let pings = 0
    client.socket.on('ping', () => pings++)
    // The idle close proves that three ping intervals passed without a ping.
    const closed = await withExpiry(client.closed, idleTimeout + 3000, 'the idle close with heartbeat: false')
    const closedAfter = Date.now() - opened
    assert.deepEqual(closed, { code: 4000, reason: 'idle timeout' })
    // The server's idle clock started a little before the client saw the open event.
    assert.ok(closedAfter >= idleTimeout - 50, `closed as idle after ${closedAfter} ms, idleTimeout ${idleTimeout} ms`)
    assert.equal(pings, 0)
    assert.equal(app.wsHeartbeat.stats().pingsSent, 0)
    await waitFor(() => closes.length === 1, 'the close event')
    assert.equal(closes[0].cause, 'idle')
  })

  test('a route with heartbeat: false keeps the plugin idleTimeout', async (t) => {
    const app = await buildApp({ idleTimeout: 300 }, (app) => {
      app.wsRoute('/ws', { heartbeat: false }, () => {})
    })
    t.after(() => app.close())
    const client = await openClient(`${await listen(app)}/ws`)
    t.after(() => client.socket.terminate())
    assert.deepEqual(await withExpiry(client.closed, 3000, 'the idle close'), { code: 4000, reason: 'idle timeout' })
    assert.equal(app.wsHeartbeat.stats().pingsSent, 0)
  })

  test('a route override shortens the heartbeat for that route only', async (t) => {
    const closes: Record<string, CloseInfo[]> = { fast: [], slow: [] }
    const app = await buildApp({ heartbeat: { pingInterval: 60_000, pongTimeout: 60_000 } }, (app) => {
      app.wsRoute('/fast', { heartbeat: { pingInterval: 100, pongTimeout: 100 } }, (c) => { c.on('close', (i) => closes.fast.push(i)) })
      app.wsRoute('/slow', (c) => { c.on('close', (i) => closes.slow.push(i)) })
    })
    t.after(() => app.close())
    const url = await listen(app)
    const fast = await openClient(`${url}/fast`, { autoPong: false })
    const slow = await openClient(`${url}/slow`, { autoPong: false })
    t.after(() => { fast.socket.terminate(); slow.socket.terminate() })
    await withExpiry(fast.closed, 3000, 'the fast route to terminate')
    assert.equal(slow.socket.readyState, slow.socket.OPEN)
    assert.equal(closes.fast[0]?.cause, 'timeout')
    assert.equal(closes.slow.length, 0)
  })
})

describe('idle timeout and app-level ping', () => {
  test('a connection with no application message for idleTimeout is closed with 4000, pongs do not count', async (t) => {
    const { app, closes } = await heartbeatApp({ idleTimeout: 300, heartbeat: { pingInterval: 50, pongTimeout: 200 } })
    t.after(() => app.close())
    const client = await openClient(`${await listen(app)}/ws`)
    t.after(() => client.socket.terminate())
    const closed = await withExpiry(client.closed, 3000, 'the idle close')
    assert.deepEqual(closed, { code: 4000, reason: 'idle timeout' })
    await waitFor(() => closes.length === 1, 'the close event')
    assert.equal(closes[0].cause, 'idle')
    assert.ok(app.wsHeartbeat.stats().pongsReceived >= 2, 'pongs flowed while the idle timer ran')
    assert.equal(app.wsHeartbeat.stats().idleClosed, 1)
  })

  test('application messages keep an idle-timeout connection open', async (t) => {
    const idleTimeout = 600
    const { app } = await heartbeatApp({ idleTimeout })
    t.after(() => app.close())
    const client = await openClient(`${await listen(app)}/ws`)
    t.after(() => client.socket.terminate())
    const started = Date.now()
    // Each echo proves the connection was still open; together they span more than idleTimeout.
    while (Date.now() - started < idleTimeout * 2) {
      client.socket.send('still here')
      assert.equal(await client.next(), 'still here')
      await delay(100)
    }
    assert.equal(client.socket.readyState, client.socket.OPEN)
    // Once the messages stop, the idle close comes.
    assert.deepEqual(await withExpiry(client.closed, idleTimeout + 3000, 'the idle close'), { code: 4000, reason: 'idle timeout' })
  })

  test('the app-level ping gets its pong on a plain route with appPing', async (t) => {
    const delivered: string[] = []
    const app = await buildApp({}, (app) => {
      app.wsRoute('/ws', { appPing: true }, (c) => { c.on('message', (d) => { delivered.push(String(d)) }) })
    })
    t.after(() => app.close())
    const client = await openClient(`${await listen(app)}/ws`)
    t.after(() => client.socket.terminate())
    client.socket.send('frws:ping:abc')
    assert.equal(await client.next(), 'frws:pong:abc')
    client.socket.send('frws:ping')
    assert.equal(await client.next(), 'frws:pong')
    client.socket.send('hello')
    await waitFor(() => delivered.length === 1, 'the application message')
    assert.deepEqual(delivered, ['hello'])
  })
})
