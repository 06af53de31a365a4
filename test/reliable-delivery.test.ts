import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MemorySessionStore } from '../lib/index.js'
import type { SessionPatch, SessionState, SessionStore } from '../lib/index.js'
import { payloadOf, resumeOf, startReliable } from './helpers/protocol-peer.js'
import type { ProtocolPeer } from './helpers/protocol-peer.js'
import { buildApp, delay, listen, openClient, rejectionDelay, waitFor, waitForAsync, withExpiry } from './helpers/server.js'

/** Tracks whether a promise has settled, and how. */
function track (promise: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected', error?: unknown } {
  const tracked: { state: 'pending' | 'resolved' | 'rejected', error?: unknown } = { state: 'pending' }
  promise.then(() => { tracked.state = 'resolved' }, (error: unknown) => { tracked.state = 'rejected'; tracked.error = error })
  return tracked
}

/** The next `count` data frames as `seq:payload` strings. */
async function takeData (peer: ProtocolPeer, count: number): Promise<string[]> {
  const seen: string[] = []
  for (let i = 0; i < count; i++) {
    const entry = await peer.nextOfType('D')
    const frame = entry.frame as { seq: number }
    seen.push(`${frame.seq}:${String(payloadOf(entry))}`)
  }
  return seen
}

/** Wait until the stored state of `sessionId` satisfies `predicate` (the server writes once per event-loop turn). */
async function storeReaches (store: SessionStore, sessionId: string, predicate: (state: SessionState) => boolean, what: string): Promise<void> {
  await waitForAsync(async () => {
    const state = await store.get(sessionId)
    return state !== undefined && predicate(state)
  }, what)
}

describe('reliable delivery from the client', () => {
  test('client data frames reach the handler once each and in order, text as text, binary as binary, empty payloads too', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    peer.sendData(1, 'héllo: world')
    peer.sendData(2, new Uint8Array([0, 1, 58, 255]))
    peer.sendData(3, '')
    peer.sendData(4, new Uint8Array(0))
    peer.sendData(5, 'D9:not a header')
    assert.equal((await peer.nextOfType('A')).raw, 'A5')
    assert.deepEqual(server.messages, [
      { data: 'héllo: world', isBinary: false },
      { data: Buffer.from([0, 1, 58, 255]), isBinary: true },
      { data: '', isBinary: false },
      { data: Buffer.alloc(0), isBinary: true },
      { data: 'D9:not a header', isBinary: false }
    ])
  })

  test('200 frames sent at once get a few coalesced cumulative acks, the last one A200', async (t) => {
    const ackEvery = 64
    const server = await startReliable({ reliable: { ackEvery, ackInterval: 20 } })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    for (let seq = 1; seq <= 200; seq++) peer.sendData(seq, `m${seq}`)
    const acks: number[] = []
    while (acks.at(-1) !== 200) {
      const ack = await peer.nextOfType('A')
      acks.push((ack.frame as { seq: number }).seq)
    }
    // Nothing else is acknowledged later: the ack of a later frame (held back for ackInterval) comes next.
    peer.sendData(201, 'later')
    assert.equal((await peer.nextOfType('A')).raw, 'A201')
    assert.deepEqual(peer.pending().map((entry) => entry.raw), [])
    assert.ok(acks.length <= Math.ceil(200 / ackEvery) + 1, `acks: ${acks.join(', ')}`)
    assert.deepEqual([...acks].sort((a, b) => a - b), acks, 'acks only grow')
    assert.deepEqual(server.messages.map((m) => m.data), [...Array.from({ length: 200 }, (_, i) => `m${i + 1}`), 'later'])
  })

  test('a single frame is acknowledged once ackInterval has passed, not at once', async (t) => {
    const ackInterval = 150
    const server = await startReliable({ reliable: { ackInterval } })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    const sent = Date.now()
    peer.sendData(1, 'lonely')
    const ack = await peer.nextOfType('A')
    const waited = Date.now() - sent
    assert.equal(ack.raw, 'A1')
    assert.ok(waited >= ackInterval - 5, `the ack was held back for ackInterval: ${waited} ms`)
  })
})

describe('reliable delivery from the server', () => {
  test('send() resolves only after the client acknowledges, and an ack covers everything up to it', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const connection = server.connections[0]
    const sends = ['one', 'two', 'three'].map((text) => track(connection.send(text)))
    assert.deepEqual(await takeData(peer, 3), ['1:one', '2:two', '3:three'])
    // A round trip (a client message and its ack, held back for ackInterval) proves the server had time to settle them.
    peer.sendData(1, 'probe 1')
    await peer.nextOfType('A')
    assert.deepEqual(sends.map((s) => s.state), ['pending', 'pending', 'pending'])

    peer.sendAck(1)
    peer.sendData(2, 'probe 2')
    await peer.nextOfType('A')
    assert.deepEqual(sends.map((s) => s.state), ['resolved', 'pending', 'pending'])

    peer.sendAck(3)
    await waitFor(() => sends.every((s) => s.state !== 'pending'), 'every send to settle')
    assert.deepEqual(sends.map((s) => s.state), ['resolved', 'resolved', 'resolved'])
    assert.equal(connection.unackedCount, 0)
  })

  test('a binary send arrives as a binary data frame', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    void server.connections[0].send(Buffer.from([9, 8, 7]))
    const frame = await peer.nextOfType('D')
    assert.equal(frame.isBinary, true)
    assert.deepEqual(payloadOf(frame), Buffer.from([9, 8, 7]))
  })

  test('a send with a timeout the client never acknowledges rejects with FRWS_ERR_SEND_TIMEOUT', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const after = await rejectionDelay(server.connections[0].send('ignored', { timeout: 100 }), { code: 'FRWS_ERR_SEND_TIMEOUT' }, 2000)
    assert.ok(after >= 90, `rejected after ${after} ms, timeout 100 ms`)
    assert.equal(server.connections[0].unackedCount, 1, 'the message stays queued')
  })
})

describe('resume', () => {
  test('after a drop the server replays exactly its unacked frames after the client position, and drops client duplicates', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const connection = server.connections[0]
    const sends = ['m1', 'm2', 'm3', 'm4', 'm5'].map((text) => track(connection.send(text)))
    assert.deepEqual(await takeData(peer, 5), ['1:m1', '2:m2', '3:m3', '4:m4', '5:m5'])
    peer.sendAck(2)
    peer.sendData(1, 'c1')
    peer.sendData(2, 'c2')
    peer.sendData(3, 'c3')
    await waitFor(() => server.messages.length === 3, 'three client messages delivered')
    peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspend event')

    const again = await server.peer()
    const resumed = await again.handshake(resumeOf(welcome, 3))
    assert.equal(resumed.resumed, true)
    assert.equal(resumed.delivered, 3)
    void connection.send('m6')
    assert.deepEqual(await takeData(again, 3), ['4:m4', '5:m5', '6:m6'])
    await waitFor(() => sends[2].state !== 'pending', 'the handshake position to release m3')
    assert.deepEqual(sends.map((s) => s.state), ['resolved', 'resolved', 'resolved', 'pending', 'pending'])

    // The client replays what it has no ack for; the server already delivered c2 and c3.
    again.sendData(2, 'c2')
    again.sendData(3, 'c3')
    again.sendData(4, 'c4')
    assert.equal((await again.nextOfType('A')).raw, 'A4')
    assert.deepEqual(server.messages.map((m) => m.data), ['c1', 'c2', 'c3', 'c4'])
    again.sendAck(6)
    await waitFor(() => sends.every((s) => s.state === 'resolved'), 'every send to resolve')
    assert.equal(server.connections.length, 1, 'the handler ran once')
    assert.deepEqual(server.events, ['suspend:1006', 'resume'])
  })

  test('messages the server sends while the client is away are replayed on resume and resolve on the ack', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const connection = server.connections[0]
    peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspend event')
    assert.equal(connection.isAttached, false)
    const text = track(connection.send('while away'))
    const bytes = track(connection.send(Buffer.from([1, 2, 3])))
    assert.equal(connection.unackedCount, 2)

    const again = await server.peer()
    const resumed = await again.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)
    const first = await again.nextOfType('D')
    const second = await again.nextOfType('D')
    assert.equal(first.raw, 'D1:while away')
    assert.equal(second.isBinary, true)
    assert.deepEqual(payloadOf(second), Buffer.from([1, 2, 3]))
    assert.equal(text.state, 'pending')
    again.sendAck(2)
    await waitFor(() => text.state !== 'pending' && bytes.state !== 'pending', 'both sends to settle')
    assert.deepEqual([text.state, bytes.state], ['resolved', 'resolved'])
  })

  test('a broadcast reaches a suspended session: it waits in its buffer and is replayed on resume', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspend event')
    assert.equal(server.app.wsConnections.broadcast('to everyone'), 1)
    assert.equal(server.connections[0].unackedCount, 1)

    const again = await server.peer()
    const resumed = await again.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)
    assert.equal((await again.nextOfType('D')).raw, 'D1:to everyone')
  })

  test('a session resumes on a second app sharing the store, which replays the unacked frames from the store', async (t) => {
    const store = new MemorySessionStore()
    t.after(() => store.close())
    const nodeA = await startReliable({ reliable: true }, { sessionStore: store })
    const nodeB = await startReliable({ reliable: true }, { sessionStore: store })
    t.after(() => Promise.all([nodeA.stop(), nodeB.stop()]))
    const peer = await nodeA.peer()
    const welcome = await peer.handshake()
    await waitFor(() => nodeA.connections.length === 1, 'the handler on A')
    void nodeA.connections[0].send('m1')
    void nodeA.connections[0].send('m2')
    void nodeA.connections[0].send(Buffer.from([0xde, 0xad]))
    await takeData(peer, 3)
    peer.sendAck(1)
    peer.sendData(1, 'c1')
    peer.sendData(2, 'c2')
    await peer.nextOfType('A')
    // A writes to the store once per event-loop turn (setImmediate): wait until it has.
    await storeReaches(store, welcome.sessionId, (state) => state.serverAcked === 1 && state.clientDelivered === 2 && state.serverSeq === 3, 'the store write of A')
    peer.terminate()
    await waitFor(() => nodeA.events.includes('suspend:1006'), 'the suspend event on A')

    const onB = await nodeB.peer()
    const resumed = await onB.handshake(resumeOf(welcome, 2))
    assert.equal(resumed.resumed, true)
    assert.equal(resumed.sessionId, welcome.sessionId)
    assert.equal(resumed.delivered, 2)
    const replayed = await onB.nextOfType('D')
    assert.equal(replayed.isBinary, true)
    assert.deepEqual(replayed.raw, Buffer.concat([Buffer.from('D3:'), Buffer.from([0xde, 0xad])]))

    await waitFor(() => nodeB.connections.length === 1, 'the handler on B')
    const onNodeB = nodeB.connections[0]
    assert.equal(onNodeB.resumedFromStore, true)
    assert.equal(onNodeB.sessionId, welcome.sessionId)
    onB.sendData(2, 'c2')
    onB.sendData(3, 'c3')
    assert.equal((await onB.nextOfType('A')).raw, 'A3')
    assert.deepEqual(nodeB.messages.map((m) => m.data), ['c3'])
    void onNodeB.send('from B')
    assert.equal((await onB.nextOfType('D')).raw, 'D4:from B')
  })

  test('a resume writes the client position to the store at once: acked messages leave the stored buffer before any new ack', async (t) => {
    const store = new MemorySessionStore()
    t.after(() => store.close())
    const server = await startReliable({ reliable: true }, { sessionStore: store })
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    for (const text of ['m1', 'm2', 'm3']) void server.connections[0].send(text)
    await takeData(peer, 3)
    peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspend event')
    await storeReaches(store, welcome.sessionId, (state) => state.serverSeq === 3, 'the three sends in the store')
    assert.equal((await store.get(welcome.sessionId))?.serverAcked, 0)

    const again = await server.peer()
    const resumed = await again.handshake(resumeOf(welcome, 2))
    assert.equal(resumed.resumed, true)
    assert.equal((await again.nextOfType('D')).raw, 'D3:m3')
    // A later write (this delivery) proves the writer has run since the resume; no ack was sent.
    again.sendData(1, 'c1')
    await again.nextOfType('A')
    await storeReaches(store, welcome.sessionId, (state) => state.clientDelivered === 1, 'the delivery in the store')
    const stored = await store.get(welcome.sessionId)
    assert.equal(stored?.serverAcked, 2, 'the resume position was written')
    assert.deepEqual(stored?.messages.map((m) => m.seq), [3])
  })

  test('the handler does not run again on a same-node resume, and suspend then resume fire', async (t) => {
    let runs = 0
    const server = await startReliable({ reliable: true }, {}, () => { runs++ })
    t.after(() => server.stop())
    const peer = await server.peer()
    // Each welcome rotates the resume token: every round resumes with the latest one.
    let welcome = await peer.handshake()
    await waitFor(() => runs === 1, 'the handler')
    for (let round = 1; round <= 3; round++) {
      const current = round === 1 ? peer : await server.peer()
      if (round > 1) {
        welcome = await current.handshake(resumeOf(welcome))
        assert.equal(welcome.resumed, true)
      }
      current.sendData(round, `r${round}`)
      await current.nextOfType('A')
      current.terminate()
      await waitFor(() => server.events.filter((e) => e === 'suspend:1006').length === round, `suspend ${round}`)
    }
    assert.equal(runs, 1)
    assert.deepEqual(server.events, ['suspend:1006', 'resume', 'suspend:1006', 'resume', 'suspend:1006'])
    assert.deepEqual(server.messages.map((m) => m.data), ['r1', 'r2', 'r3'])
  })

  test('a node whose session was resumed on another node closes its old socket with 4409 and ends the session there', async (t) => {
    const store = new MemorySessionStore()
    t.after(() => store.close())
    const nodeA = await startReliable({ reliable: true }, { sessionStore: store })
    const nodeB = await startReliable({ reliable: true }, { sessionStore: store })
    t.after(() => Promise.all([nodeA.stop(), nodeB.stop()]))
    const onA = await nodeA.peer()
    const welcome = await onA.handshake()
    onA.sendData(1, 'on A')
    await onA.nextOfType('A')
    await storeReaches(store, welcome.sessionId, (state) => state.clientDelivered === 1, 'the delivery on A in the store')

    // The network of A's client looks dead to the client, so it resumes on B while A's socket is still open.
    const onB = await nodeB.peer()
    const resumed = await onB.handshake(resumeOf(welcome, 0))
    assert.equal(resumed.resumed, true)
    assert.equal(onA.socket.readyState, onA.socket.OPEN)

    // A learns of the move on its next store write.
    const sendOnA = nodeA.connections[0].send('from A after the move')
    const closed = await onA.closed()
    assert.equal(closed.code, 4409)
    await assert.rejects(withExpiry(sendOnA, 2000, 'the send on A to settle'), { code: 'FRWS_ERR_SESSION_ENDED' })
    await waitFor(() => nodeA.closes.length === 1, 'the session to end on A')
    assert.equal(nodeA.closes[0].cause, 'replaced')
    assert.equal(nodeA.app.wsConnections.size, 0)
    // B keeps the session.
    onB.sendData(2, 'on B')
    assert.equal((await onB.nextOfType('A')).raw, 'A2')
    assert.deepEqual(nodeB.messages.map((m) => m.data), ['on B'])
    assert.notEqual(await store.get(welcome.sessionId), undefined)
  })
})

describe('session lifetime', () => {
  test('a normal close by the client ends the session: close event, empty registry, gone from the store', async (t) => {
    const store = new MemorySessionStore()
    t.after(() => store.close())
    const server = await startReliable({ reliable: true }, { sessionStore: store })
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const pending = track(server.connections[0].send('never acked'))
    await peer.nextOfType('D')
    peer.socket.close(1000, 'bye')
    await peer.closed()
    await waitFor(() => server.closes.length === 1, 'the close event')
    assert.deepEqual(server.closes[0], { code: 1000, reason: 'bye', cause: 'client' })
    assert.equal(server.app.wsConnections.size, 0)
    await waitFor(() => pending.state !== 'pending', 'the pending send to settle')
    assert.equal((pending.error as { code?: string }).code, 'FRWS_ERR_SESSION_ENDED')
    await waitFor(() => store.size === 0, 'the store to drop the session')
    assert.equal(await store.get(welcome.sessionId), undefined)

    const again = await server.peer()
    const resumed = await again.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, false)
    assert.notEqual(resumed.sessionId, welcome.sessionId)
  })

  test('a suspended session expires after sessionTimeout: close cause expired, pending sends reject, registry empty', async (t) => {
    const server = await startReliable({ reliable: { sessionTimeout: 300 } })
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const connection = server.connections[0]
    const before = track(connection.send('before the drop'))
    await peer.nextOfType('D')
    peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspend event')
    const during = track(connection.send('while away'))
    assert.equal(server.app.wsConnections.size, 1, 'a suspended session stays registered')

    await waitFor(() => server.closes.length === 1, 'the session to expire', 3000)
    assert.equal(server.closes[0].cause, 'expired')
    assert.equal(server.app.wsConnections.size, 0)
    await waitFor(() => before.state !== 'pending' && during.state !== 'pending', 'the sends to settle')
    assert.equal((before.error as { code?: string }).code, 'FRWS_ERR_SESSION_ENDED')
    assert.equal((during.error as { code?: string }).code, 'FRWS_ERR_SESSION_ENDED')
    await assert.rejects(connection.send('after the end'), { code: 'FRWS_ERR_SESSION_ENDED' })

    const late = await server.peer()
    const resumed = await late.handshake(resumeOf(welcome, 1))
    assert.equal(resumed.resumed, false)
  })

  test('a session that expired on the server cannot be resumed from the store, even when its release reached the store late', async (t) => {
    const sessionTimeout = 300
    // The store answers 200 ms late, so the release lands well after the server started its expiry timer.
    const store = new SlowAnswerStore(new MemorySessionStore(), 200)
    t.after(() => store.close())
    const server = await startReliable({ reliable: { sessionTimeout } }, { sessionStore: store })
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const during = track(server.connections[0].send('while away'))
    await peer.nextOfType('D')
    peer.terminate()
    await waitFor(() => server.closes.length === 1, 'the session to expire', sessionTimeout + 3000)
    assert.equal(server.closes[0].cause, 'expired')
    await waitFor(() => during.state !== 'pending', 'the send to settle')
    assert.equal((during.error as { code?: string }).code, 'FRWS_ERR_SESSION_ENDED')

    const late = await server.peer()
    const resumed = await late.handshake(resumeOf(welcome, 0))
    assert.equal(resumed.resumed, false, 'a send the application saw fail must not be replayed by a resume')
  })

  test('fastify.close() ends a suspended session at once with cause shutdown', async (t) => {
    const server = await startReliable({ reliable: { sessionTimeout: 60_000 } }, { closeTimeout: 10_000 })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const pending = track(server.connections[0].send('unacked'))
    await peer.nextOfType('D')
    peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspend event')

    // Well below closeTimeout: a suspended session has no socket to wait for.
    await withExpiry(server.app.close(), 3000, 'fastify.close()')
    assert.deepEqual(server.closes.map((info) => info.cause), ['shutdown'])
    assert.equal(server.app.wsConnections.size, 0)
    await waitFor(() => pending.state !== 'pending', 'the pending send to settle')
    assert.equal((pending.error as { code?: string }).code, 'FRWS_ERR_SESSION_ENDED')
  })

  test('fastify.close() closes an attached reliable client with 1001 and ends the session locally with cause shutdown', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const closing = server.app.close()
    assert.equal((await peer.closed()).code, 1001)
    await withExpiry(closing, 5000, 'fastify.close()')
    assert.deepEqual(server.closes.map((info) => info.cause), ['shutdown'])
  })

  test('fastify.close() ends a session whose socket was already closing when the shutdown began', async (t) => {
    const server = await startReliable({ reliable: true, idleTimeout: 200 }, { closeTimeout: 300 })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const connection = server.connections[0]
    const pending = track(connection.send('unacked'))
    await peer.nextOfType('D')
    // A client that stops reading never answers the idle close, so the socket stays closing.
    peer.socket.pause()
    await waitFor(() => connection.socket.readyState === connection.socket.CLOSING, 'the idle close to start', 3000)

    await withExpiry(server.app.close(), 5000, 'fastify.close()')
    assert.deepEqual(server.closes.map((info) => info.cause), ['shutdown'])
    assert.equal(server.app.wsConnections.size, 0)
    assert.equal(pending.state, 'rejected')
  })

  test('fastify.close() keeps an attached session in a shared store so the client resumes it on another node', async (t) => {
    const store = new MemorySessionStore()
    t.after(() => store.close())
    const nodeA = await startReliable({ reliable: true }, { sessionStore: store })
    const nodeB = await startReliable({ reliable: true }, { sessionStore: store })
    t.after(() => Promise.all([nodeA.stop(), nodeB.stop()]))
    const peer = await nodeA.peer()
    const welcome = await peer.handshake()
    await waitFor(() => nodeA.connections.length === 1, 'the handler on A')
    void nodeA.connections[0].send('before the shutdown')
    await peer.nextOfType('D')
    const closing = nodeA.app.close()
    assert.equal((await peer.closed()).code, 1001)
    await withExpiry(closing, 5000, 'fastify.close() of A')

    const onB = await nodeB.peer()
    const resumed = await onB.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)
    assert.equal((await onB.nextOfType('D')).raw, 'D1:before the shutdown')
  })

  test('a message sent to a suspended session just before fastify.close() is replayed by the node the client resumes on', async (t) => {
    const store = new MemorySessionStore()
    t.after(() => store.close())
    const nodeA = await startReliable({ reliable: true }, { sessionStore: store })
    const nodeB = await startReliable({ reliable: true }, { sessionStore: store })
    t.after(() => Promise.all([nodeA.stop(), nodeB.stop()]))
    const peer = await nodeA.peer()
    const welcome = await peer.handshake()
    await waitFor(() => nodeA.connections.length === 1, 'the handler on A')
    peer.terminate()
    await waitFor(() => nodeA.events.includes('suspend:1006'), 'the suspend event on A')
    nodeA.connections[0].send('sent while away, right before the shutdown').catch(() => {})
    await withExpiry(nodeA.app.close(), 5000, 'fastify.close() of A')

    const onB = await nodeB.peer()
    const resumed = await onB.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)
    assert.equal((await onB.nextOfType('D')).raw, 'D1:sent while away, right before the shutdown')
  })

  test('app-level pings do not keep a reliable session from its idleTimeout', async (t) => {
    const server = await startReliable({ reliable: true, idleTimeout: 300 })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    const pinger = setInterval(() => peer.sendPing('keepalive'), 50)
    t.after(() => clearInterval(pinger))
    const closed = await peer.closed(3000)
    clearInterval(pinger)
    assert.equal(closed.code, 4000)
    assert.ok(peer.received.some((entry) => entry.raw === 'frws:pong:keepalive'), 'the pings were answered')
  })

  test('idleTimeout on a reliable route closes the socket with 4000 and suspends the session without ending it', async (t) => {
    const server = await startReliable({ reliable: true, idleTimeout: 200 })
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    peer.sendData(1, 'one message')
    const closed = await peer.closed(3000)
    assert.equal(closed.code, 4000)
    await waitFor(() => server.events.includes('suspend:4000'), 'the suspend event')
    assert.deepEqual(server.closes, [], 'the session did not end')
    assert.equal(server.app.wsConnections.size, 1)

    const again = await server.peer()
    const resumed = await again.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)
    assert.equal(resumed.delivered, 1)
  })

  // A remote store answers late: a same-node resume can claim the session while writes made for the
  // dropped socket are still in flight. These two tests pin the two races that opens.
  test('a same-node resume while a store write of the dropped socket is queued is not closed as replaced', async (t) => {
    const store = new SlowAnswerStore(new MemorySessionStore(), 150)
    t.after(() => store.close())
    const server = await startReliable({ reliable: true }, { sessionStore: store })
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    // The handshake's write is in flight; this delivery queues a second write behind it.
    peer.sendData(1, 'queued write')
    await peer.nextOfType('A')
    peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspend event')
    const again = await server.peer()
    const resumed = await again.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)

    // Every write made so far has had its answer; a round trip after that proves the server acted on them.
    await store.settled()
    again.sendData(2, 'after the answers')
    assert.equal((await again.nextOfType('A')).raw, 'A2')
    assert.deepEqual(server.events, ['suspend:1006', 'resume'])
    assert.equal(again.socket.readyState, again.socket.OPEN)
  })

  test('a same-node resume while the dropped socket awaits its store write keeps the session alive in the store', async (t) => {
    const sessionTimeout = 300
    const store = new SlowAnswerStore(new MemorySessionStore(), 150)
    t.after(() => store.close())
    const server = await startReliable({ reliable: { sessionTimeout } }, { sessionStore: store })
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    // Drop while the handshake's store write is unanswered, so the release waits behind it.
    peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspend event')
    const again = await server.peer()
    const resumed = await again.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)

    // A control session dropped after the resume expires later than a wrongly released one would.
    const control = await server.peer()
    const controlWelcome = await control.handshake()
    control.terminate()
    await waitForAsync(async () => await store.get(controlWelcome.sessionId) === undefined, 'the control session to expire in the store', sessionTimeout + 3000)
    assert.notEqual(await store.get(welcome.sessionId), undefined, 'an attached session does not expire in the store')
  })
})

/** A store whose writes apply at once but whose answers arrive `delay` ms later (a remote store). */
class SlowAnswerStore implements SessionStore {
  #unanswered = 0
  constructor (private readonly inner: MemorySessionStore, private readonly delay: number) {}
  create: SessionStore['create'] = (input) => this.inner.create(input)
  claim: SessionStore['claim'] = (input) => this.inner.claim(input)
  async update (sessionId: string, ownerId: string, patch: SessionPatch): Promise<boolean> {
    this.#unanswered++
    try {
      const owned = await this.inner.update(sessionId, ownerId, patch)
      await delay(this.delay)
      return owned
    } finally {
      this.#unanswered--
    }
  }

  /** Resolves once every update made so far has been answered. */
  settled (): Promise<void> {
    return waitFor(() => this.#unanswered === 0, 'the store to answer every update', 5000)
  }

  release: SessionStore['release'] = (sessionId, ownerId, sessionTimeout) => this.inner.release(sessionId, ownerId, sessionTimeout)
  delete: SessionStore['delete'] = (sessionId, ownerId) => this.inner.delete(sessionId, ownerId)
  get: SessionStore['get'] = (sessionId) => this.inner.get(sessionId)
  close: SessionStore['close'] = () => this.inner.close()
}

describe('app-level ping', () => {
  test('frws:ping:abc on a reliable route is answered with frws:pong:abc and is not delivered', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    peer.sendPing('abc')
    assert.equal((await peer.next()).raw, 'frws:pong:abc')
    peer.sendPing()
    assert.equal((await peer.next()).raw, 'frws:pong')
    assert.deepEqual(server.messages, [])
  })

  test('a plain route with appPing answers the ping, and one without it delivers the text as a message', async (t) => {
    const seen: Record<string, string[]> = { '/with': [], '/without': [] }
    const app = await buildApp({}, (app) => {
      for (const [path, appPing] of [['/with', true], ['/without', false]] as const) {
        app.wsRoute(path, { appPing }, (connection) => {
          connection.on('message', (data) => {
            seen[path].push(String(data))
            void connection.send(`echo ${String(data)}`)
          })
        })
      }
    })
    t.after(() => app.close())
    const url = await listen(app)
    const withPing = await openClient(`${url}/with`)
    const withoutPing = await openClient(`${url}/without`)
    t.after(() => { withPing.socket.terminate(); withoutPing.socket.terminate() })

    withPing.socket.send('frws:ping:abc')
    assert.equal(await withPing.next(), 'frws:pong:abc')
    withPing.socket.send('frws:ping:')
    assert.equal(await withPing.next(), 'echo frws:ping:', 'a near miss is an ordinary message')
    withoutPing.socket.send('frws:ping:abc')
    assert.equal(await withoutPing.next(), 'echo frws:ping:abc')
    assert.deepEqual(seen, { '/with': ['frws:ping:'], '/without': ['frws:ping:abc'] })
  })
})
