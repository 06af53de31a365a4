// One client socket's setup, where the rest of the suite let mutants of
// lib/client/client-connection.ts survive (docs/TESTING.md, "Mutation testing"): the binary type
// a browser socket starts with, and a welcome that turns the heartbeat off with one zero.
import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import WebSocketImpl from 'ws'
import type { ReliableClient } from '../lib/client/index.js'
import { ScriptedPeer, nextEvent, startClient } from './helpers/client-peer.js'

/** `ws`'s WebSocket starting with `binaryType` 'blob', as a browser's does. */
class BlobWebSocket extends WebSocketImpl {
  static readonly created: BlobWebSocket[] = []
  readonly initialBinaryType: string
  constructor (url: string | URL, protocols?: string | string[]) {
    super(url, protocols)
    // @types/ws lags behind ws, which takes 'blob' where Blob exists (Node >= 18).
    this.binaryType = 'blob' as 'arraybuffer'
    this.initialBinaryType = this.binaryType
    BlobWebSocket.created.push(this)
  }
}

describe('client connection setup', () => {
  let peer: ScriptedPeer
  let clients: ReliableClient[] = []

  beforeEach(async () => { peer = await ScriptedPeer.start() })
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()))
    clients = []
    await peer.close()
  })

  it('receives binary messages on a socket whose binaryType starts as blob', async () => {
    const client = startClient(peer.url, { WebSocket: BlobWebSocket as unknown as typeof WebSocketImpl })
    clients.push(client)
    const conn = await peer.nextConnection()
    await conn.handshake()
    const received = nextEvent(client, 'message')
    conn.send(Uint8Array.of(0x44, 0x31, 0x3a, 1, 2, 3)) // D1: then 3 bytes
    const [data, isBinary] = await received
    assert.equal(isBinary, true)
    assert.deepEqual([...(data as Uint8Array)], [1, 2, 3])
    const [socket] = BlobWebSocket.created
    assert.equal(socket?.initialBinaryType, 'blob', 'the stand-in starts like a browser socket')
    assert.equal(socket?.binaryType, 'arraybuffer')
  })

  for (const [pingInterval, pongTimeout] of [[50, 0], [0, 50]]) {
    it(`runs no heartbeat when the welcome says pingInterval ${pingInterval} and pongTimeout ${pongTimeout}`, async () => {
      const client = startClient(peer.url)
      clients.push(client)
      const conn = await peer.nextConnection()
      // The client acks D1 after ackInterval (300 ms): a heartbeat would have pinged before that.
      await conn.handshake({ pingInterval, pongTimeout, ackInterval: 300 })
      conn.send('D1:x')
      assert.equal(await conn.nextRaw(), 'A1', 'the ack comes first, no ping')
      assert.equal(client.state, 'open')
    })
  }
})
