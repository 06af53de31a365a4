import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import type { CloseInfo, WsConnection } from '../lib/index.js'
import { buildApp, cleanup, listen, openClient, waitFor, withExpiry } from './helpers/server.js'
import type { TestClient } from './helpers/server.js'

/** Messages a handler lets queue before the socket is paused (lib/connection.ts). */
const PENDING_PAUSE_THRESHOLD = 256

/** A round trip of a protocol ping: proves the server read everything the client sent before it. */
function pingPong (client: TestClient, ms = 3000): Promise<unknown> {
  const pong = new Promise((resolve) => client.socket.once('pong', resolve))
  client.socket.ping()
  return withExpiry(pong, ms, 'the pong of a ping sent after the messages')
}

describe('WsConnection.send() and close()', () => {
  test('send() after the connection closed rejects with FRWS_ERR_CONNECTION_CLOSED', async (t) => {
    let connection: WsConnection | undefined
    const closes: CloseInfo[] = []
    const app = await buildApp({}, (app) => {
      app.wsRoute('/ws', (c) => {
        connection = c
        c.on('close', (info) => closes.push(info))
      })
    })
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/ws`)
    await waitFor(() => connection !== undefined, 'the handler')
    const open = connection as WsConnection
    await open.send('while open')
    assert.equal(await client.next(), 'while open')
    client.socket.close(1000)
    await waitFor(() => closes.length === 1, 'the server-side close event')
    await assert.rejects(open.send('lost'), { code: 'FRWS_ERR_CONNECTION_CLOSED' })
    assert.deepEqual(client.messages, ['while open'])
  })

  test('close() without a code sends 1000, not 1001', async (t) => {
    const closes: CloseInfo[] = []
    const app = await buildApp({}, (app) => {
      app.wsRoute('/ws', (c) => {
        c.on('message', () => c.close())
        c.on('close', (info) => closes.push(info))
      })
    })
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/ws`)
    client.socket.send('close please')
    assert.deepEqual(await withExpiry(client.closed, 2000, 'the close frame'), { code: 1000, reason: 'normal closure' })
    await waitFor(() => closes.length === 1, 'the server-side close event')
    assert.deepEqual(closes[0], { code: 1000, reason: 'normal closure', cause: 'server' })
  })
})

describe('messages that arrive before a message listener', () => {
  test(`a slow async handler makes the socket pause after ${PENDING_PAUSE_THRESHOLD} queued messages, then gets them all in order`, async (t) => {
    let rawSocket: Socket | undefined
    let startListening: () => void = () => {}
    const gate = new Promise<void>((resolve) => { startListening = resolve })
    const received: string[] = []
    const count = PENDING_PAUSE_THRESHOLD + 44
    const app = await buildApp({}, (app) => {
      app.wsRoute('/ws', async (c, request) => {
        rawSocket = request.raw.socket as Socket
        await gate
        c.on('message', (data) => {
          received.push(String(data))
          if (received.length === count) void c.send('all received')
        })
      })
    })
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/ws`)
    await waitFor(() => rawSocket !== undefined, 'the handler')
    assert.equal(rawSocket?.isPaused(), false)
    for (let i = 1; i <= count; i++) client.socket.send(`m${i}`)
    await waitFor(() => rawSocket?.isPaused() === true, 'the socket to pause behind the slow handler')
    assert.deepEqual(received, [])

    startListening()
    assert.equal(await client.next(), 'all received')
    assert.deepEqual(received, Array.from({ length: count }, (_, i) => `m${i + 1}`))
    assert.equal(rawSocket?.isPaused(), false, 'reading resumed once the listener took the queue')
  })

  test('a handler that settles without a message listener drops messages and never pauses the socket', async (t) => {
    let rawSocket: Socket | undefined
    let handled = false
    const app = await buildApp({}, (app) => {
      app.wsRoute('/ws', async (_c, request) => {
        rawSocket = request.raw.socket as Socket
        await new Promise((resolve) => setTimeout(resolve, 20))
        handled = true
      })
    })
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/ws`)
    await waitFor(() => handled, 'the handler to settle')
    for (let i = 1; i <= PENDING_PAUSE_THRESHOLD * 2; i++) client.socket.send(`m${i}`)
    // The pong proves the server read every message; a queue kept for nobody would have paused the socket at the threshold.
    await pingPong(client)
    assert.equal(rawSocket?.isPaused(), false)
    assert.equal(client.socket.readyState, client.socket.OPEN)
  })
})
