// Closing a socket the server refuses (lib/bounded-close.ts), with a real ws pair on 127.0.0.1:
// the close handshake of a paused socket completes (the server sees the echoed code, not 1006
// from a termination), and a socket already closing keeps its first close.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { WebSocket, WebSocketServer } from 'ws'
import { closeWithinBound } from '../lib/bounded-close.js'
import { withExpiry } from './helpers/server.js'

/** A connected pair: the server side of the socket and the client. */
async function pair (t: { after: (fn: () => unknown) => void }): Promise<{ server: WebSocket, client: WebSocket }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  t.after(() => new Promise((resolve) => wss.close(resolve)))
  await once(wss, 'listening')
  const { port } = wss.address() as { port: number }
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>
  const client = new WebSocket(`ws://127.0.0.1:${port}`)
  t.after(() => client.terminate())
  const [server] = await withExpiry(accepted, 2000, 'the connection')
  await withExpiry(once(client, 'open'), 2000, 'the client to open')
  return { server, client }
}

describe('closeWithinBound', () => {
  it('completes the close handshake of a paused socket: both sides see the code, none sees 1006', async (t) => {
    const { server, client } = await pair(t)
    server.pause()
    const serverClosed = once(server, 'close') as Promise<[number, Buffer]>
    const clientClosed = once(client, 'close') as Promise<[number, Buffer]>
    closeWithinBound(server, 4401, 'unauthorized')
    const [clientCode, clientReason] = await withExpiry(clientClosed, 2000, 'the client close')
    assert.deepEqual([clientCode, clientReason.toString()], [4401, 'unauthorized'])
    const [serverCode] = await withExpiry(serverClosed, 3000, 'the server close')
    assert.equal(serverCode, 4401, 'the peer answer was read, not cut off after REFUSED_CLOSE_TIMEOUT')
  })

  it('leaves a socket that is already closing alone', async (t) => {
    const { server, client } = await pair(t)
    const clientClosed = once(client, 'close') as Promise<[number, Buffer]>
    server.close(1000, 'first')
    closeWithinBound(server, 4401, 'second')
    const [code, reason] = await withExpiry(clientClosed, 2000, 'the client close')
    assert.deepEqual([code, reason.toString()], [1000, 'first'])
  })
})
