/**
 * SessionSender with a store that must record a message before it reaches the socket
 * (`outlivesProcess`), and the replay after a resume while a store write is in flight: which
 * frames go out, when, and each once. Written from the survivors of the mutation run of
 * lib/reliable/session-sender.ts (docs/TESTING.md, "Mutation testing").
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import diagnosticsChannel from 'node:diagnostics_channel'
import { MemorySessionStore } from '../../lib/index.js'
import type { ReliableConnection } from '../../lib/index.js'
import { CHANNEL_NAMES } from '../../lib/metrics/channels.js'
import type { SessionPatch } from '../../lib/store/session-store.js'
import { buildApp, cleanup, listen, waitFor } from '../helpers/server.js'
import { openPeer, resumeOf } from '../helpers/protocol-peer.js'
import type { ProtocolPeer } from '../helpers/protocol-peer.js'

const TIMEOUT = { timeout: 30_000 }

/** A memory store whose updates wait while `holding`, until `releaseAll()`. */
class GatedStore extends MemorySessionStore {
  readonly outlivesProcess: boolean
  holding = false
  #waiting: Array<() => void> = []

  constructor (outlivesProcess: boolean) {
    super()
    this.outlivesProcess = outlivesProcess
  }

  get waiting (): number {
    return this.#waiting.length
  }

  releaseAll (): void {
    this.holding = false
    for (const release of this.#waiting.splice(0)) release()
  }

  override async update (sessionId: string, ownerId: string, patch: SessionPatch): Promise<boolean> {
    if (this.holding) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    return await super.update(sessionId, ownerId, patch)
  }
}

type After = { after: (fn: () => unknown) => void }

async function start (t: After, store: GatedStore): Promise<{ url: string, connections: ReliableConnection[] }> {
  const connections: ReliableConnection[] = []
  const app = await buildApp({ sessionStore: store }, (instance) => {
    instance.wsRoute('/r', { reliable: true }, (connection) => { connections.push(connection as ReliableConnection) })
  })
  t.after(() => cleanup(app))
  return { url: `${await listen(app)}/r`, connections }
}

/** The data frames `peer` received so far, as text. */
function dataFrames (peer: ProtocolPeer): string[] {
  return peer.received.filter((entry) => typeof entry.raw === 'string' && entry.raw.startsWith('D')).map((entry) => entry.raw as string)
}

/** True when every message `peer` received is a valid protocol frame. */
function allValid (peer: ProtocolPeer): boolean {
  return peer.received.every((entry) => !(entry.frame instanceof Error))
}

/** A ping answered: everything the server wrote before the pong has arrived. */
async function roundTrip (peer: ProtocolPeer, token: string): Promise<void> {
  peer.sendPing(token)
  await peer.nextOfType('pong')
}

describe('SessionSender with a store that outlives the process (mutation survivors)', () => {
  test('writes a message once the store recorded it, and not one that the store has not recorded yet', TIMEOUT, async (t) => {
    const store = new GatedStore(true)
    const { url, connections } = await start(t, store)
    const peer = await openPeer(url)
    t.after(() => peer.terminate())
    await peer.handshake()
    await waitFor(() => connections.length === 1, 'the connection')
    const connection = connections[0]
    void connection.send('a').catch(() => {})
    await waitFor(() => dataFrames(peer).length === 1, 'D1')
    store.holding = true
    void connection.send('b').catch(() => {})
    await waitFor(() => store.waiting === 1, 'the write of b at the gate')
    void connection.send('c').catch(() => {})
    await roundTrip(peer, 'held')
    assert.deepEqual(dataFrames(peer), ['D1:a'], 'b and c wait for the store')
    store.releaseAll()
    await waitFor(() => dataFrames(peer).length === 3, 'D2 and D3')
    await roundTrip(peer, 'after')
    assert.deepEqual(dataFrames(peer), ['D1:a', 'D2:b', 'D3:c'], 'each once, in order')
    assert.ok(allValid(peer), 'nothing but protocol frames')
  })

  test('a message written once the store recorded it is published on message:out, once', TIMEOUT, async (t) => {
    const out: Array<{ bytes?: number }> = []
    const listener = (message: unknown): void => { out.push(message as { bytes?: number }) }
    diagnosticsChannel.subscribe(CHANNEL_NAMES.messageOut, listener)
    t.after(() => diagnosticsChannel.unsubscribe(CHANNEL_NAMES.messageOut, listener))
    const store = new GatedStore(true)
    const { url, connections } = await start(t, store)
    const peer = await openPeer(url)
    t.after(() => peer.terminate())
    await peer.handshake()
    await waitFor(() => connections.length === 1, 'the connection')
    // Control frames (pongs, acks) are published too: count the publications of this frame's size.
    const frameBytes = 'D1:hello'.length
    const published = (): number => out.filter((message) => message.bytes === frameBytes).length
    void connections[0].send('hello').catch(() => {})
    await waitFor(() => dataFrames(peer).length === 1, 'D1')
    assert.equal(published(), 1, 'published when written')
    await roundTrip(peer, 'later')
    assert.deepEqual(dataFrames(peer), ['D1:hello'])
    assert.equal(published(), 1, 'one message out for the one frame written')
  })

  test('writes only what the store recorded while the next write is held', TIMEOUT, async (t) => {
    const store = new GatedStore(true)
    const { url, connections } = await start(t, store)
    const peer = await openPeer(url)
    t.after(() => peer.terminate())
    await peer.handshake()
    await waitFor(() => connections.length === 1, 'the connection')
    const connection = connections[0]
    store.holding = true
    void connection.send('a').catch(() => {})
    await waitFor(() => store.waiting === 1, 'the write of a at the gate')
    void connection.send('b').catch(() => {})
    // a's write commits; b's write, which starts after it, waits at the gate.
    store.releaseAll()
    store.holding = true
    await waitFor(() => dataFrames(peer).length >= 1, 'D1')
    await waitFor(() => store.waiting === 1, 'the write of b at the gate')
    await roundTrip(peer, 'b-held')
    assert.deepEqual(dataFrames(peer), ['D1:a'], 'b is not written before the store has it')
    store.releaseAll()
    await waitFor(() => dataFrames(peer).length === 2, 'D2')
    await roundTrip(peer, 'end')
    assert.deepEqual(dataFrames(peer), ['D1:a', 'D2:b'])
    assert.ok(allValid(peer), 'nothing but protocol frames')
  })

  test('a resume replays only what the store recorded; the rest follows its commit, each frame once', TIMEOUT, async (t) => {
    const store = new GatedStore(true)
    const { url, connections } = await start(t, store)
    const peer = await openPeer(url)
    const welcome = await peer.handshake()
    await waitFor(() => connections.length === 1, 'the connection')
    const connection = connections[0]
    void connection.send('a').catch(() => {})
    await waitFor(() => dataFrames(peer).length === 1, 'D1')
    peer.terminate()
    await waitFor(() => !connection.isAttached, 'the suspend')
    store.holding = true
    void connection.send('b').catch(() => {})
    await waitFor(() => store.waiting === 1, 'the write of b at the gate')
    const again = await openPeer(url)
    t.after(() => again.terminate())
    await again.handshake(resumeOf(welcome, 0))
    await roundTrip(again, 'replayed')
    assert.deepEqual(dataFrames(again), ['D1:a'], 'only what the store holds is replayed')
    store.releaseAll()
    await waitFor(() => dataFrames(again).length === 2, 'D2 after its commit')
    await roundTrip(again, 'end')
    assert.deepEqual(dataFrames(again), ['D1:a', 'D2:b'])
    assert.ok(allValid(again), 'nothing but protocol frames')
  })

  test('a resume from a later position replays only the recorded messages after it', TIMEOUT, async (t) => {
    const store = new GatedStore(true)
    const { url, connections } = await start(t, store)
    const peer = await openPeer(url)
    const welcome = await peer.handshake()
    await waitFor(() => connections.length === 1, 'the connection')
    const connection = connections[0]
    void connection.send('a').catch(() => {})
    void connection.send('b').catch(() => {})
    await waitFor(() => dataFrames(peer).length === 2, 'D1 and D2')
    peer.terminate()
    await waitFor(() => !connection.isAttached, 'the suspend')
    store.holding = true
    void connection.send('c').catch(() => {})
    await waitFor(() => store.waiting === 1, 'the write of c at the gate')
    const again = await openPeer(url)
    t.after(() => again.terminate())
    await again.handshake(resumeOf(welcome, 1))
    await roundTrip(again, 'replayed')
    assert.deepEqual(dataFrames(again), ['D2:b'], 'D3 waits for the store')
    store.releaseAll()
    await waitFor(() => dataFrames(again).length === 2, 'D3 after its commit')
    await roundTrip(again, 'end')
    assert.deepEqual(dataFrames(again), ['D2:b', 'D3:c'])
  })
})

describe('SessionSender with a store of this process (mutation survivors)', () => {
  test('a resume while a store write is in flight replays every message, recorded or not', TIMEOUT, async (t) => {
    const store = new GatedStore(false)
    const { url, connections } = await start(t, store)
    const peer = await openPeer(url)
    const welcome = await peer.handshake()
    await waitFor(() => connections.length === 1, 'the connection')
    const connection = connections[0]
    void connection.send('a').catch(() => {})
    await waitFor(() => dataFrames(peer).length === 1, 'D1')
    peer.terminate()
    await waitFor(() => !connection.isAttached, 'the suspend')
    store.holding = true
    void connection.send('b').catch(() => {})
    await waitFor(() => store.waiting === 1, 'the write of b at the gate')
    const again = await openPeer(url)
    t.after(() => { store.releaseAll(); again.terminate() })
    await again.handshake(resumeOf(welcome, 0))
    await roundTrip(again, 'replayed')
    assert.deepEqual(dataFrames(again), ['D1:a', 'D2:b'])
  })

  test('a send while the session is suspended is not published as a message out', TIMEOUT, async (t) => {
    const out: unknown[] = []
    const listener = (message: unknown): void => { out.push(message) }
    diagnosticsChannel.subscribe(CHANNEL_NAMES.messageOut, listener)
    t.after(() => diagnosticsChannel.unsubscribe(CHANNEL_NAMES.messageOut, listener))
    const store = new GatedStore(false)
    const { url, connections } = await start(t, store)
    const peer = await openPeer(url)
    await peer.handshake()
    await waitFor(() => connections.length === 1, 'the connection')
    const connection = connections[0]
    peer.terminate()
    await waitFor(() => !connection.isAttached, 'the suspend')
    const before = out.length
    void connection.send('while away').catch(() => {})
    assert.equal(out.length, before)
  })
})
