// Conformance: docs/PROTOCOL.md "Sequencing" and "Acknowledgements" (server side), over raw frames.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '../../helpers/server.js'
import { nextAck, nextSequenced, openSession, resumeSession, startServer } from './peer.js'

describe('Sequencing', () => {
  test('[R-SQ-1] a seq at or below the last one received on this connection closes with 4400', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const { peer } = await openSession(server)
    peer.sendData(1, 'a')
    peer.sendData(2, 'b')
    peer.sendData(2, 'b again')
    const closed = await peer.closed()
    assert.equal(closed.code, 4400)
    assert.match(closed.reason, /backwards|went back|expected/)
    assert.deepEqual(server.messages.map((m) => m.data), ['a', 'b'])
  })

  test('[R-SQ-2] at the start of a connection, a replayed seq at or below delivered is dropped as a duplicate', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const first = await openSession(server)
    first.peer.sendData(1, 'a')
    first.peer.sendData(2, 'b')
    assert.equal(await nextAck(first.peer), 2)
    first.peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspension')
    const second = await resumeSession(server, first, 0)
    assert.equal(second.welcome.delivered, 2)
    second.peer.sendData(1, 'a')
    second.peer.sendData(2, 'b')
    second.peer.sendData(3, 'c')
    assert.equal(await nextAck(second.peer), 3)
    assert.deepEqual(server.messages.map((m) => m.data), ['a', 'b', 'c'])
  })

  test('[R-SQ-3] a gap closes with 4400 naming the expected seq, and the session ends', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const session = await openSession(server)
    session.peer.sendData(1, 'a')
    session.peer.sendData(3, 'c')
    const closed = await session.peer.closed()
    assert.equal(closed.code, 4400)
    assert.equal(closed.reason, 'gap in seq: expected 2, got 3')
    await waitFor(() => server.events.includes('close:error'), 'the session to end')
    assert.equal((await resumeSession(server, session, 0)).welcome.resumed, false)
  })

  test('[R-SQ-4] nothing is resent on the connection that first carried it; seqs assigned while the client is away go out with the replay', async (t) => {
    const server = await startServer({ reliable: { ackInterval: 10 } })
    t.after(() => server.stop())
    const first = await openSession(server)
    const connection = server.connections[0]
    void connection.send('one')
    assert.equal(await nextSequenced(first.peer, 'D'), '1:one')
    // Unacknowledged for many ack intervals: a later frame proves time passed without a resend.
    await new Promise((resolve) => setTimeout(resolve, 100))
    void connection.send('two')
    assert.equal(await nextSequenced(first.peer, 'D'), '2:two')
    assert.deepEqual(first.peer.pending(), [])
    first.peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspension')
    void connection.send('three, while away')
    const second = await resumeSession(server, first, 2)
    assert.equal(await nextSequenced(second.peer, 'D'), '3:three, while away')
  })
})

describe('Acknowledgements', () => {
  test('[R-AK-1] the server acks at once when ackEvery delivered messages are unacknowledged', async (t) => {
    const server = await startServer({ reliable: { ackEvery: 8, ackInterval: 60_000 } })
    t.after(() => server.stop())
    const { peer } = await openSession(server)
    for (let seq = 1; seq <= 8; seq++) peer.sendData(seq, `m${seq}`)
    assert.equal(await nextAck(peer, 2000), 8)
  })

  test('[R-AK-2] a lone delivery is acked once ackInterval has passed, not before', async (t) => {
    const ackInterval = 120
    const server = await startServer({ reliable: { ackInterval } })
    t.after(() => server.stop())
    const { peer } = await openSession(server)
    const sent = Date.now()
    peer.sendData(1, 'lonely')
    assert.equal(await nextAck(peer), 1)
    assert.ok(Date.now() - sent >= ackInterval - 5, 'not before ackInterval')
  })

  test('[R-AK-3] acks are cumulative, carry the delivered position and only grow; an ack is never acknowledged', async (t) => {
    const server = await startServer({ reliable: { ackEvery: 5, ackInterval: 20 } })
    t.after(() => server.stop())
    const { peer } = await openSession(server)
    for (let seq = 1; seq <= 12; seq++) peer.sendData(seq, 'x')
    const acks: number[] = []
    while (acks.at(-1) !== 12) acks.push(await nextAck(peer))
    assert.deepEqual([...acks].sort((a, b) => a - b), acks)
    assert.ok(acks.length <= 4, `acks: ${acks.join(', ')}`)
    void server.connections[0].send('d')
    await peer.nextOfType('D')
    peer.sendAck(1)
    peer.sendPing('after-ack')
    assert.equal((await peer.next()).raw, 'frws:pong:after-ack', 'nothing answers the ack')
  })

  test('[R-AK-4] the server flushes its pending ack before a close it starts: shutdown (1001) and a protocol error alike', async (t) => {
    const server = await startServer({ reliable: { ackInterval: 60_000, ackEvery: 1000 } }, {}, (connection) => {
      connection.on('message', (data) => { void connection.send(`echo:${String(data)}`) })
    })
    t.after(() => server.stop())
    const bad = await openSession(server)
    bad.peer.sendData(1, 'x')
    bad.peer.sendData(3, 'gap')
    assert.equal((await bad.peer.closed()).code, 4400)
    assert.ok(bad.peer.received.some((e) => e.raw === 'A1'), 'A1 before the 4400')

    const { peer } = await openSession(server)
    for (let seq = 1; seq <= 3; seq++) peer.sendData(seq, `m${seq}`)
    for (let i = 0; i < 3; i++) await peer.nextOfType('D')
    await server.app.close()
    const closed = await peer.closed()
    assert.equal(closed.code, 1001)
    assert.equal(peer.received.at(-1)?.raw, 'A3', 'the last frame before the 1001 acks everything delivered')
  })

  test('[R-AK-5] an answer to a request acknowledges the request and everything before it', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const { peer } = await openSession(server)
    const connection = server.connections[0]
    const before = connection.send('before')
    const asked = connection.request('question')
    assert.equal(await nextSequenced(peer, 'D'), '1:before')
    assert.equal(await nextSequenced(peer, 'Q'), '2:question')
    peer.sendResponse(1, 2, 'answer')
    assert.equal(await asked, 'answer')
    await before
    assert.equal(connection.unackedCount, 0, 'no ack frame was needed')
  })
})
