import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import WebSocket, { WebSocketServer } from 'ws'
import { ReliableClient } from '../lib/client/index.js'
import { BatchingWebSocket } from '../lib/node-client/index.js'
import * as nodeClient from '../lib/node-client/index.js'
import { importsOf } from './helpers/import-graph.js'
import { buildApp, listen, SINGLE_ADDRESS_LOAD } from './helpers/server.js'

/** A `ws` server on 127.0.0.1 that records what it receives, in order, with whether it was binary. */
async function recordingServer (): Promise<{ url: string, received: Array<{ text: string, binary: boolean }>, close: () => Promise<void> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const received: Array<{ text: string, binary: boolean }> = []
  server.on('connection', (socket) => {
    socket.on('message', (data: Buffer, binary) => received.push({ text: data.toString(), binary }))
  })
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: async () => {
      for (const client of server.clients) client.terminate()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

async function opened<T extends WebSocket> (socket: T): Promise<T> {
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve)
    socket.once('error', reject)
  })
  return socket
}

function transportOf (socket: WebSocket): Duplex {
  return (socket as unknown as { _socket: Duplex })._socket
}

const nextTick = async (): Promise<void> => { await new Promise<void>((resolve) => process.nextTick(resolve)) }

async function waitForCount (list: unknown[], count: number): Promise<void> {
  const deadline = Date.now() + 10_000
  while (list.length < count) {
    if (Date.now() > deadline) throw new Error(`received ${list.length} of ${count}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('BatchingWebSocket', () => {
  test('the frames sent in one turn stay in the corked socket until the turn ends, then leave together, in order', async (t) => {
    const server = await recordingServer()
    t.after(() => server.close())
    const socket = await opened(new BatchingWebSocket(server.url))
    t.after(() => socket.terminate())
    const transport = transportOf(socket)

    socket.send('one')
    socket.send('two')
    socket.send('three')
    // 3 frames of 3 to 5 bytes, each with a 2-byte header and a 4-byte mask key.
    assert.equal(transport.writableCorked, 1)
    assert.equal(transport.writableLength, 3 * 6 + 3 + 3 + 5)
    await nextTick()
    assert.equal(transport.writableCorked, 0)
    await waitForCount(server.received, 3)
    assert.deepEqual(server.received.map((message) => message.text), ['one', 'two', 'three'])
  })

  test('ws\'s own WebSocket writes each frame at once (what BatchingWebSocket changes)', async (t) => {
    const server = await recordingServer()
    t.after(() => server.close())
    const socket = await opened(new WebSocket(server.url))
    t.after(() => socket.terminate())
    socket.send('one')
    assert.equal(transportOf(socket).writableCorked, 0)
  })

  test('send keeps ws\'s signatures: a callback in the place of the options, options with a callback', async (t) => {
    const server = await recordingServer()
    t.after(() => server.close())
    const socket = await opened(new BatchingWebSocket(server.url))
    t.after(() => socket.terminate())
    const written: string[] = []
    socket.send('text', (error) => { written.push(`text ${error == null ? 'written' : 'failed'}`) })
    socket.send(Buffer.from('bytes'), { binary: true }, (error) => { written.push(`bytes ${error == null ? 'written' : 'failed'}`) })
    socket.send('last')
    await waitForCount(server.received, 3)
    assert.deepEqual(server.received, [{ text: 'text', binary: false }, { text: 'bytes', binary: true }, { text: 'last', binary: false }])
    assert.deepEqual(written, ['text written', 'bytes written'])
  })

  test('a send before the socket opened throws as ws\'s does', () => {
    const socket = new BatchingWebSocket('ws://127.0.0.1:1')
    socket.on('error', () => {})
    assert.throws(() => socket.send('early'), /CONNECTING/)
    socket.terminate()
  })

  test('ReliableClient over BatchingWebSocket: 500 messages sent in one turn are echoed in order and every send is acknowledged', async (t) => {
    const app = await buildApp(SINGLE_ADDRESS_LOAD, (app) => {
      app.wsRoute('/echo', { reliable: true }, (connection) => {
        connection.on('message', (data) => { void connection.send(data) })
      })
    })
    t.after(() => app.close())
    const url = await listen(app)
    const client = new ReliableClient(`${url}/echo`, { WebSocket: BatchingWebSocket, maxAttempts: 0 })
    t.after(() => client.close())
    const echoes: string[] = []
    client.on('message', (data) => echoes.push(String(data)))
    await new Promise<void>((resolve) => client.once('open', () => resolve()))
    const sent = Array.from({ length: 500 }, (_, index) => `message ${index}`)
    const acks = sent.map(async (text) => { await client.send(text) })
    await Promise.all(acks)
    await waitForCount(echoes, sent.length)
    assert.deepEqual(echoes, sent)
  })
})

describe('fastify-reliable-ws/client/node', () => {
  test('exports BatchingWebSocket only, and pulls in ws and the write batcher, not the plugin', async () => {
    assert.deepEqual(Object.keys(nodeClient), ['BatchingWebSocket'])
    const { files, packages } = await importsOf('lib/node-client/index.ts')
    assert.deepEqual(files.sort(), ['lib/node-client/batching-websocket.ts', 'lib/node-client/index.ts', 'lib/write-batcher.ts'])
    assert.deepEqual([...new Set(packages)], ['ws'])
  })

  test('the client entry (the browser bundle) does not pull it in', async () => {
    const { files } = await importsOf('lib/client/index.ts')
    assert.ok(files.includes('lib/client/client.ts'))
    assert.deepEqual(files.filter((file) => file.startsWith('lib/node-client/') || file === 'lib/write-batcher.ts'), [])
  })
})

