import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Duplex } from 'node:stream'
import type { CloseInfo } from '../lib/index.js'
import { buildApp, captureLogs, cleanup, listen, openClient, rawUpgrade, refusedStatus, waitFor, withExpiry } from './helpers/server.js'

describe('fastify.close()', () => {
  test('closes responsive clients with 1001 and a reason, terminates a silent one after closeTimeout, and never hangs', async (t) => {
    const closeTimeout = 200
    const serverSide: CloseInfo[] = []
    const app = await buildApp({ closeTimeout }, (app) => {
      app.wsRoute('/ws', (connection) => {
        connection.on('message', (data) => { void connection.send(data) })
        connection.on('close', (info) => serverSide.push(info))
      })
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const first = await openClient(`${url}/ws`)
    const second = await openClient(`${url}/ws`)
    const silent = await rawUpgrade(`${url}/ws`)
    t.after(() => { first.socket.terminate(); second.socket.terminate(); silent.socket.destroy() })
    assert.equal(silent.status, 101)
    const silentClosed = new Promise<void>((resolve) => silent.socket.once('close', () => resolve()))
    await waitFor(() => app.wsConnections.size === 3, 'three registered connections')

    const started = Date.now()
    const closing = withExpiry(app.close(), 10_000, 'fastify.close()')
    const [firstClose, secondClose] = await withExpiry(Promise.all([first.closed, second.closed]), 5000, 'the 1001 close frames')
    await closing
    const elapsed = Date.now() - started

    assert.deepEqual(firstClose, { code: 1001, reason: 'server shutting down' })
    assert.deepEqual(secondClose, { code: 1001, reason: 'server shutting down' })
    assert.ok(elapsed >= closeTimeout - 10, `close waited for the silent peer: ${elapsed} ms`)
    // Terminating takes a few ticks; 600 ms of slack still tells 200 ms from any fixed 1 s wait.
    assert.ok(elapsed < closeTimeout + 600, `close is bounded by closeTimeout plus slack: ${elapsed} ms`)
    assert.equal(app.wsConnections.size, 0)
    await withExpiry(silentClosed, 2000, 'the silent peer to be cut off')
    assert.equal(serverSide.length, 3)
    assert.deepEqual(serverSide.map((info) => info.cause), ['shutdown', 'shutdown', 'shutdown'])
    assert.deepEqual(serverSide.map((info) => info.code).sort(), [1001, 1001, 1006])
  })

  test('a long closeTimeout is honoured: a peer that ignores the close frame is waited for the whole closeTimeout', async (t) => {
    const closeTimeout = 2000
    const app = await buildApp({ closeTimeout }, (app) => { app.wsRoute('/ws', () => {}) })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const silent = await rawUpgrade(`${url}/ws`)
    t.after(() => silent.socket.destroy())
    await waitFor(() => app.wsConnections.size === 1, 'the silent connection')
    const cutOff = new Promise<number>((resolve) => silent.socket.once('close', () => resolve(Date.now())))

    const started = Date.now()
    await withExpiry(app.close(), closeTimeout + 5000, 'fastify.close()')
    const elapsed = Date.now() - started
    const cutOffAfter = (await withExpiry(cutOff, 2000, 'the silent peer to be cut off')) - started

    assert.ok(cutOffAfter >= closeTimeout - 10, `the silent peer was kept for closeTimeout before termination: ${cutOffAfter} ms`)
    assert.ok(elapsed >= closeTimeout - 10, `close waited closeTimeout for the silent peer: ${elapsed} ms`)
    assert.ok(elapsed < closeTimeout + 1500, `close is bounded by closeTimeout plus slack: ${elapsed} ms`)
  })

  test('a new upgrade while the close waits gets 503 and does not hold fastify.close() open', async (t) => {
    const closeTimeout = 300
    const app = await buildApp({ closeTimeout }, (app) => { app.wsRoute('/ws', () => {}) })
    // Only so this test can clean up when the bug makes close hang: the server-side upgrade sockets.
    const serverSockets = new Set<Duplex>()
    app.server.on('upgrade', (_request, socket: Duplex) => serverSockets.add(socket))
    t.after(() => { for (const socket of serverSockets) socket.destroy() })
    const url = await listen(app)
    const silent = await rawUpgrade(`${url}/ws`)
    t.after(() => silent.socket.destroy())
    await waitFor(() => app.wsConnections.size === 1, 'the silent connection')
    const closeFrame = new Promise((resolve) => silent.socket.once('data', resolve))

    const closing = app.close()
    await withExpiry(closeFrame, 2000, 'the close frame to the silent peer')
    assert.equal(await refusedStatus(`${url}/ws`), 503)
    await withExpiry(closing, closeTimeout + 2000, 'fastify.close() after a refused late upgrade')
  })

  test('an upgrade whose hooks finish after the close began is closed with 1001 and never reaches the handler', async (t) => {
    let hookStarted: () => void = () => {}
    const inHook = new Promise<void>((resolve) => { hookStarted = resolve })
    let openGate: () => void = () => {}
    const gate = new Promise<void>((resolve) => { openGate = resolve })
    let runs = 0
    const logs = captureLogs()
    const app = await buildApp({}, (app) => {
      app.wsRoute('/ws', {
        preValidation: async () => { hookStarted(); await gate }
      }, () => { runs++ })
    }, { logger: { level: 'info', stream: logs.stream } })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const client = openClient(`${url}/ws`)
    await withExpiry(inHook, 2000, 'the hook to start')
    const closing = app.close()
    // The shutdown waits for the upgrade still in its hooks (it is a held socket).
    await waitFor(() => logs.lines.some((line) => line.msg === 'closing websocket connections'), 'the shutdown to begin')
    openGate()
    const opened = await client
    t.after(() => opened.socket.terminate())
    assert.deepEqual(await withExpiry(opened.closed, 2000, 'the close event'), { code: 1001, reason: 'server shutting down' })
    await withExpiry(closing, 5000, 'fastify.close()')
    assert.equal(runs, 0)
    assert.equal(app.wsConnections.size, 0)
  })

  test('with no connections it does not wait for closeTimeout', async (t) => {
    const app = await buildApp({ closeTimeout: 60_000 }, (app) => { app.wsRoute('/ws', () => {}) })
    t.after(() => cleanup(app))
    await listen(app)
    await withExpiry(app.close(), 5000, 'fastify.close() with no connections')
  })

  test('when every client answers the close frame it resolves without waiting for closeTimeout', async (t) => {
    const app = await buildApp({ closeTimeout: 60_000 }, (app) => { app.wsRoute('/ws', () => {}) })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const clients = await Promise.all([1, 2, 3].map(() => openClient(`${url}/ws`)))
    t.after(() => { for (const client of clients) client.socket.terminate() })
    await withExpiry(app.close(), 5000, 'fastify.close() with responsive clients')
    for (const client of clients) assert.equal((await client.closed).code, 1001)
    assert.equal(app.wsConnections.size, 0)
  })

  test("a handler's close event reports the cause 'shutdown' with code 1001", async (t) => {
    let seen: CloseInfo | undefined
    const app = await buildApp({}, (app) => {
      app.wsRoute('/ws', (connection) => { connection.on('close', (info) => { seen = info }) })
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const client = await openClient(`${url}/ws`)
    t.after(() => client.socket.terminate())
    await withExpiry(app.close(), 5000, 'fastify.close()')
    assert.deepEqual(seen, { code: 1001, reason: 'server shutting down', cause: 'shutdown' })
  })

  test('a client-initiated close reports the cause client, not shutdown', async (t) => {
    let seen: CloseInfo | undefined
    const app = await buildApp({}, (app) => {
      app.wsRoute('/ws', (connection) => { connection.on('close', (info) => { seen = info }) })
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const client = await openClient(`${url}/ws`)
    client.socket.close(1000, 'bye')
    await waitFor(() => seen !== undefined, 'the server-side close event')
    assert.deepEqual(seen, { code: 1000, reason: 'bye', cause: 'client' })
  })
})
