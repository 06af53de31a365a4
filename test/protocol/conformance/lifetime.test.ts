// Conformance: docs/PROTOCOL.md "Overflow", "Session lifetime" and "Close codes" (server side), over raw frames.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MemorySessionStore } from '../../../lib/index.js'
import { waitFor } from '../../helpers/server.js'
import { helloText, nextAck, nextSequenced, openSession, positionOf, readWelcome, refusedResume, resumeSession, startServer } from './peer.js'

describe('Overflow', () => {
  test('[R-OV-1] a server send that does not fit the unacknowledged bounds closes with 4413 and ends the session; pending sends reject', async (t) => {
    const server = await startServer({ reliable: { maxUnacked: 3, ackEvery: 2 } })
    t.after(() => server.stop())
    const session = await openSession(server)
    const connection = server.connections[0]
    const pending = [connection.send('1'), connection.send('2'), connection.send('3')]
    const overflow = connection.send('4')
    await assert.rejects(overflow, { code: 'FRWS_ERR_SESSION_ENDED' })
    for (const send of pending) await assert.rejects(send, { code: 'FRWS_ERR_SESSION_ENDED' })
    const closed = await session.peer.closed()
    assert.equal(closed.code, 4413)
    assert.ok(closed.reason.length > 0)
    assert.equal((await resumeSession(server, session, 3)).welcome.resumed, false)
  })
})

describe('Session lifetime', () => {
  test('[R-LT-1] a dropped connection, a 1001 or a 4408 from the client keeps the session for sessionTimeout; sends meanwhile are replayed', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    let session = await openSession(server)
    const connection = server.connections[0]
    for (const leave of [() => session.peer.terminate(), () => session.peer.socket.close(1001, 'bye'), () => session.peer.socket.close(4408, 'no pong')]) {
      const suspends = server.events.length
      leave()
      await waitFor(() => server.events.length > suspends, 'the suspension')
      assert.match(server.events.at(-1) ?? '', /^suspend:/)
      const sent = connection.send('while away')
      const delivered = connection.outboundState.acked
      session = await resumeSession(server, session, delivered)
      assert.equal(session.welcome.resumed, true)
      const frame = await nextSequenced(session.peer, 'D')
      assert.match(frame, /:while away$/)
      session.peer.sendAck(Number(frame.split(':')[0]))
      await sent
    }
  })

  test('[R-LT-2] 1000, 1003, 1007, 1009, 4400, 4413 and 4426 end the session whichever side closes with them', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    for (const code of [1000, 1003, 1007, 1009, 4400, 4413, 4426]) {
      const session = await openSession(server)
      const ends = server.events.filter((e) => e.startsWith('close:')).length
      session.peer.socket.close(code, 'client closes')
      await session.peer.closed()
      await waitFor(() => server.events.filter((e) => e.startsWith('close:')).length > ends, `the session to end after ${code}`)
      assert.equal((await resumeSession(server, session, 0)).welcome.resumed, false, `after ${code}`)
    }
    // Server side: a 4400 it sends (R-SQ-3), a 1009 (R-SZ-1) and a 4413 (R-OV-1) are tested with their rules.
  })

  test('[R-LT-3] a session not resumed within sessionTimeout expires: pending sends reject and a resume gets resumed false', async (t) => {
    const server = await startServer({ reliable: { sessionTimeout: 80 } })
    t.after(() => server.stop())
    const session = await openSession(server)
    const connection = server.connections[0]
    const sent = connection.send('never acked')
    await session.peer.nextOfType('D')
    const dropped = Date.now()
    session.peer.terminate()
    await assert.rejects(sent, { code: 'FRWS_ERR_SESSION_ENDED' })
    assert.ok(Date.now() - dropped >= 70, 'not before sessionTimeout')
    assert.equal((await resumeSession(server, session, 1)).welcome.resumed, false)
  })

  test('[R-LT-4] the server\'s send() resolves when the client acks the message, not before', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const { peer } = await openSession(server)
    let settled = false
    const sent = server.connections[0].send('x').then(() => { settled = true })
    await peer.nextOfType('D')
    peer.sendPing('proof')
    await peer.nextOfType('pong')
    assert.equal(settled, false, 'a round trip later, still unacknowledged')
    peer.sendAck(1)
    await sent
  })

  test('[R-LT-5] on shutdown the server closes with 1001 and leaves the session to the store, where another node resumes it', async (t) => {
    const store = new MemorySessionStore()
    t.after(() => store.close())
    const first = await startServer({ reliable: true }, { sessionStore: store })
    t.after(() => first.stop())
    const second = await startServer({ reliable: true }, { sessionStore: store })
    t.after(() => second.stop())
    const session = await openSession(first)
    session.peer.sendData(1, 'before shutdown')
    assert.equal(await nextAck(session.peer), 1)
    await first.app.close()
    assert.equal((await session.peer.closed()).code, 1001)
    const moved = await resumeSession(second, session, 0)
    assert.equal(moved.welcome.resumed, true)
    assert.equal(moved.welcome.delivered, 1)
  })
})

describe('Close codes', () => {
  test('[R-CC-1] every close the protocol layer starts carries a reason of at most 123 bytes of UTF-8', async (t) => {
    const server = await startServer({ reliable: { principal: (request) => String(request.headers['x-user']) } }, { handshakeTimeout: 100 })
    t.after(() => server.stop())
    const reasons: Array<[number, string]> = []
    const timeout = await server.peer({ headers: { 'x-user': 'a' } })
    reasons.push([4408, (await timeout.closed(3000)).reason])
    const version = await server.peer({ protocols: [] })
    version.sendRaw(helloText(undefined, 999_999))
    reasons.push([4426, (await version.closed()).reason])
    const hello = await server.peer()
    hello.sendRaw('H{"version":' + '1'.repeat(300) + '}')
    reasons.push([4400, (await hello.closed()).reason])
    const owner = await openSession(server, { headers: { 'x-user': 'a' } })
    reasons.push([4401, (await refusedResume(server, owner, 0, { headers: { 'x-user': 'b' } })).reason])
    const taker = await server.peer({ headers: { 'x-user': 'a' } })
    taker.sendRaw(helloText(positionOf(owner, 0)))
    await readWelcome(taker)
    reasons.push([4409, (await owner.peer.closed()).reason])
    for (const [code, reason] of reasons) {
      assert.ok(reason.length > 0, `${code} has a reason`)
      assert.ok(Buffer.byteLength(reason) <= 123, `${code}: ${reason}`)
    }
  })
})
