// The set of held upgrade sockets (lib/held-sockets.ts) on its own, with real streams: per-address
// counts, release on close, whenEmpty and destruction. Written for mutation testing of the
// connection core (docs/TESTING.md): the end-to-end tests reach it only through a server.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { IncomingMessage } from 'node:http'
import { Socket } from 'node:net'
import { PassThrough } from 'node:stream'
import { WebSocket } from 'ws'
import { HeldSockets } from '../lib/held-sockets.js'

function upgrade (): { request: IncomingMessage, socket: PassThrough } {
  return { request: new IncomingMessage(new Socket()), socket: new PassThrough() }
}

/** Destroy `socket` and wait for its close event (release runs on it). */
async function closeSocket (socket: PassThrough): Promise<void> {
  const closed = once(socket, 'close')
  socket.destroy()
  await closed
}

describe('held sockets', () => {
  it('holds a socket until it closes, tells released once with its request, and refuses a destroyed one', async () => {
    const released: IncomingMessage[] = []
    const held = new HeldSockets((request) => released.push(request))
    const a = upgrade()
    const gone = upgrade()
    gone.socket.destroy()
    assert.equal(held.add(gone.request, gone.socket), false)
    assert.equal(held.add(a.request, a.socket), true)
    assert.equal(held.size, 1)
    await closeSocket(a.socket)
    assert.equal(held.size, 0)
    assert.deepEqual(released, [a.request])
    held.release(a.socket)
    assert.deepEqual(released, [a.request], 'a second release of the same socket does nothing')
  })

  it('counts a socket against its address once, and forgets the address when its last socket closes', async () => {
    const held = new HeldSockets(() => {})
    const a = upgrade()
    const b = upgrade()
    held.add(a.request, a.socket)
    held.add(b.request, b.socket)
    held.countAgainst(a.request, '10.0.0.1')
    held.countAgainst(a.request, '10.0.0.1')
    held.countAgainst(b.request, '10.0.0.1')
    held.countAgainst(upgrade().request, '10.0.0.1')
    assert.equal(held.countOf('10.0.0.1'), 2)
    assert.equal(held.countOf('10.0.0.2'), 0)
    assert.equal(held.addressCount, 1)
    await closeSocket(a.socket)
    assert.equal(held.countOf('10.0.0.1'), 1)
    assert.equal(held.addressCount, 1)
    await closeSocket(b.socket)
    assert.equal(held.countOf('10.0.0.1'), 0)
    assert.equal(held.addressCount, 0)
  })

  it('does not count a socket that was never counted when it closes', async () => {
    const held = new HeldSockets(() => {})
    const counted = upgrade()
    const uncounted = upgrade()
    held.add(counted.request, counted.socket)
    held.add(uncounted.request, uncounted.socket)
    held.countAgainst(counted.request, '10.0.0.1')
    await closeSocket(uncounted.socket)
    assert.equal(held.countOf('10.0.0.1'), 1)
  })

  it('resolves whenEmpty at once when nothing is held, else when the last socket closed', async () => {
    const held = new HeldSockets(() => {})
    await held.whenEmpty()
    const a = upgrade()
    const b = upgrade()
    held.add(a.request, a.socket)
    held.add(b.request, b.socket)
    let empty = false
    const emptied = held.whenEmpty().then(() => { empty = true })
    await closeSocket(a.socket)
    // The close event of a has been handled (closeSocket awaited it) and b is still held.
    await Promise.resolve()
    assert.equal(empty, false)
    await closeSocket(b.socket)
    await emptied
    assert.equal(empty, true)
  })

  it('destroys the socket of one request, or every held socket, and counts them', async () => {
    const held = new HeldSockets(() => {})
    const a = upgrade()
    const b = upgrade()
    const c = upgrade()
    held.add(a.request, a.socket)
    held.add(b.request, b.socket)
    held.add(c.request, c.socket)
    held.destroy(a.request)
    await once(a.socket, 'close')
    assert.equal(b.socket.destroyed, false)
    assert.equal(held.size, 2)
    assert.equal(held.destroyAll(), 2)
    assert.equal(b.socket.destroyed, true)
    assert.equal(c.socket.destroyed, true)
    await held.whenEmpty()
  })

  it('ignores requests it does not hold, and closes only WebSockets that are open', () => {
    const held = new HeldSockets(() => {})
    const a = upgrade()
    held.add(a.request, a.socket)
    // A ws WebSocket without a connection (ws takes a null address; @types/ws does not say so): readyState CONNECTING.
    const connecting = new WebSocket(null as unknown as string, undefined, {})
    held.upgraded(upgrade().request, connecting)
    held.destroy(upgrade().request)
    held.upgraded(a.request, connecting)
    assert.equal(held.closeOpen(1001, 'server shutting down'), 0)
    assert.equal(connecting.readyState, WebSocket.CONNECTING)
    assert.equal(a.socket.destroyed, false)
    assert.equal(held.size, 1)
    held.destroyAll()
  })
})
