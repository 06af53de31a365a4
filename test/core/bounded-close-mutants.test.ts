// lib/bounded-close.ts against its mutants, with a real ws pair on 127.0.0.1 and node:test's fake
// setTimeout (so the REFUSED_CLOSE_TIMEOUT bound fires only when the test says). The real-time
// tests are in test/bounded-close.test.ts.
// - A paused socket must be resumed: without it the close handshake waits for the bound (a
//   terminated socket still reports the peer's code, ws reads the buffered close frame then, so
//   only a clock that never reaches the bound tells the two apart).
// - A socket already closing is left alone: no bound timer that would cut a handshake ws itself
//   still waits for.
import { describe, it, mock } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { WebSocket, WebSocketServer } from 'ws'
import { closeWithinBound, REFUSED_CLOSE_TIMEOUT } from '../../lib/bounded-close.js'

// Captured before any test mocks setTimeout: the expiries of these tests run on real time.
const realSetTimeout = globalThis.setTimeout
const realClearTimeout = globalThis.clearTimeout

function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expiry = new Promise<never>((_resolve, reject) => {
    timer = realSetTimeout(() => reject(new Error(`timed out after ${ms} ms (real time) waiting for ${what}`)), ms)
  })
  return Promise.race([promise, expiry]).finally(() => realClearTimeout(timer))
}

async function pair (t: { after: (fn: () => unknown) => void }): Promise<{ server: WebSocket, client: WebSocket }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  t.after(() => new Promise((resolve) => wss.close(resolve)))
  await once(wss, 'listening')
  const { port } = wss.address() as { port: number }
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>
  const client = new WebSocket(`ws://127.0.0.1:${port}`)
  t.after(() => client.terminate())
  const [server] = await within(accepted, 5000, 'the connection')
  await within(once(client, 'open'), 5000, 'the client to open')
  t.after(() => server.terminate())
  return { server, client }
}

describe('closeWithinBound (fake setTimeout)', () => {
  it('resumes a paused socket, so the close handshake completes while the bound timer never fires', async (t) => {
    const { server, client } = await pair(t)
    server.pause()
    mock.timers.enable({ apis: ['setTimeout'] })
    t.after(() => mock.timers.reset())
    const serverClosed = once(server, 'close') as Promise<[number, Buffer]>
    const clientClosed = once(client, 'close') as Promise<[number, Buffer]>
    closeWithinBound(server, 4401, 'unauthorized')
    assert.equal(server.isPaused, false, 'the socket reads again, to see the answer to its close frame')
    // The fake clock stays at 0: the socket can only close by reading the client's close frame.
    const [serverCode] = await within(serverClosed, 10_000, 'the server close (no clock tick)')
    assert.equal(serverCode, 4401)
    const [clientCode, clientReason] = await within(clientClosed, 10_000, 'the client close')
    assert.deepEqual([clientCode, clientReason.toString()], [4401, 'unauthorized'])
  })

  it('starts no bound for a socket the application is already closing: ws keeps waiting for the answer', async (t) => {
    const { server, client } = await pair(t)
    client.pause() // the client reads nothing, so it does not answer the close frame yet
    mock.timers.enable({ apis: ['setTimeout'] })
    t.after(() => mock.timers.reset())
    const serverClosed = once(server, 'close') as Promise<[number, Buffer]>
    server.close(1000, 'first')
    closeWithinBound(server, 4401, 'second')
    // A bound timer would terminate the socket here; ws's own close timer is 30 s away.
    mock.timers.tick(REFUSED_CLOSE_TIMEOUT)
    client.resume() // now the client reads the close frame and answers it
    const [serverCode] = await within(serverClosed, 10_000, 'the server close')
    assert.equal(serverCode, 1000, 'the handshake completed (a terminated socket reports 1006)')
  })
})
