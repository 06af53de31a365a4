// Conformance: docs/PROTOCOL.md "Handshake and resume", server steps 3 to 7, over raw frames.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, cleanup, listen, waitFor } from '../../helpers/server.js'
import { openPeer } from '../../helpers/protocol-peer.js'
import { helloText, nextAck, nextSequenced, openSession, positionOf, readWelcome, refusedResume, resumeSession, startServer } from './peer.js'
import type { ServerSide, Session } from './peer.js'

/** Drop the client's TCP connection and wait until the server suspended the session. */
async function dropAndSuspend (server: ServerSide, session: Session): Promise<void> {
  const before = server.events.filter((e) => e.startsWith('suspend:')).length
  session.peer.terminate()
  await waitFor(() => server.events.filter((e) => e.startsWith('suspend:')).length > before, 'the session to be suspended')
}

describe('Resume', () => {
  test('[R-RS-1] a resume of an unknown session, another epoch or an expired session gets a new session with resumed false and delivered 0', async (t) => {
    const server = await startServer({ reliable: { sessionTimeout: 100 } })
    t.after(() => server.stop())
    const original = await openSession(server)
    original.peer.sendData(1, 'x')
    assert.equal(await nextAck(original.peer), 1)

    const unknown = await resumeSession(server, { ...original, welcome: { ...original.welcome, sessionId: 'no-such-session' } }, 0)
    assert.equal(unknown.welcome.resumed, false)
    assert.equal(unknown.welcome.delivered, 0)
    assert.notEqual(unknown.welcome.sessionId, 'no-such-session')

    const otherEpoch = await resumeSession(server, { ...original, welcome: { ...original.welcome, epoch: 'another' } }, 0)
    assert.equal(otherEpoch.welcome.resumed, false)
    assert.notEqual(otherEpoch.welcome.sessionId, original.welcome.sessionId)
    assert.equal(original.peer.socket.readyState, original.peer.socket.OPEN, 'the owner keeps its connection')

    await dropAndSuspend(server, original)
    await waitFor(() => server.events.includes('close:expired'), 'the session to expire')
    const expired = await resumeSession(server, original, 0)
    assert.equal(expired.welcome.resumed, false)
    assert.equal(expired.welcome.delivered, 0)
  })

  test('[R-RS-2] a resume by another principal closes with 4401 and the session stays with its owner', async (t) => {
    const server = await startServer({ reliable: { principal: (request) => String(request.headers['x-user']) } })
    t.after(() => server.stop())
    const alice = await openSession(server, { headers: { 'x-user': 'alice' } })
    const refused = await refusedResume(server, alice, 0, { headers: { 'x-user': 'mallory' } })
    assert.equal(refused.code, 4401)
    assert.ok(refused.reason.length > 0)
    alice.peer.sendData(1, 'still mine')
    assert.equal(await nextAck(alice.peer), 1)
    assert.deepEqual(server.events, [], 'the owner was not disturbed')
    await dropAndSuspend(server, alice)
    const back = await resumeSession(server, alice, 0, { headers: { 'x-user': 'alice' } })
    assert.equal(back.welcome.resumed, true)
  })

  test('[R-RS-3] a valid resume takes the session over and the connection that held it is closed with 4409', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const first = await openSession(server)
    first.peer.sendData(1, 'a')
    assert.equal(await nextAck(first.peer), 1)
    const second = await resumeSession(server, first, 0)
    assert.equal(second.welcome.resumed, true)
    assert.equal(second.welcome.delivered, 1)
    const closed = await first.peer.closed()
    assert.equal(closed.code, 4409)
    second.peer.sendData(2, 'b')
    assert.equal(await nextAck(second.peer), 2)
  })

  test('[R-RS-4] a resume that fails its checks never disturbs the attached or suspended owner', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const owner = await openSession(server)
    void server.connections[0].send('A1')
    assert.equal(await nextSequenced(owner.peer, 'D'), '1:A1')
    owner.peer.sendAck(1)
    await waitFor(() => server.connections[0].unackedCount === 0, 'the ack')

    // Behind the owner's own ack: refused with 4400, the owner carries on.
    const behind = await refusedResume(server, owner, 0)
    assert.equal(behind.code, 4400)
    assert.match(behind.reason, /behind/)
    void server.connections[0].send('A2')
    assert.equal(await nextSequenced(owner.peer, 'D'), '2:A2')
    owner.peer.sendData(1, 'owner still here')
    assert.equal(await nextAck(owner.peer), 1)

    // Beyond anything sent: a new session for the newcomer, the owner untouched.
    const beyond = await resumeSession(server, owner, 99)
    assert.equal(beyond.welcome.resumed, false)
    assert.notEqual(beyond.welcome.sessionId, owner.welcome.sessionId)
    assert.equal(owner.peer.socket.readyState, owner.peer.socket.OPEN)
    assert.deepEqual(server.events, [], 'no suspend, resume or close of the owner session')

    // Suspended owner: a bad resume does not end or take it; the right one resumes with continuity.
    owner.peer.sendAck(2)
    await waitFor(() => server.connections[0].unackedCount === 0, 'the second ack')
    await dropAndSuspend(server, owner)
    assert.equal((await refusedResume(server, owner, 1)).code, 4400)
    const back = await resumeSession(server, owner, 2)
    assert.equal(back.welcome.resumed, true)
    assert.equal(back.welcome.delivered, 1)
  })

  test('[R-RS-5] a resume releases what the client delivered and replays the rest in seq order, exactly as first sent, before new frames', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const first = await openSession(server)
    const connection = server.connections[0]
    void connection.send('one')
    void connection.send(Buffer.from([0, 1, 2]))
    void connection.send('three')
    for (let i = 0; i < 3; i++) await first.peer.nextOfType('D')
    const firstRaw = first.peer.received.slice(1).map((e) => e.raw)
    first.peer.sendAck(1)
    await waitFor(() => connection.unackedCount === 2, 'the ack of 1')
    await dropAndSuspend(server, first)
    void connection.send('four, sent while away')

    const second = await resumeSession(server, first, 2)
    assert.equal(second.welcome.resumed, true)
    const replayed = [await second.peer.next(), await second.peer.next()]
    assert.deepEqual(replayed.map((e) => e.raw), [firstRaw[2], 'D4:four, sent while away'])
    assert.equal(replayed[0].isBinary, false)
    await waitFor(() => connection.unackedCount === 2, 'the resume position to release 2')
    void connection.send('five')
    assert.equal(await nextSequenced(second.peer, 'D'), '5:five')
    assert.deepEqual(firstRaw.slice(0, 2).map((raw) => typeof raw), ['string', 'object'], 'binary stays binary')
  })

  test('[R-RS-6] a resume with a stale or wrong token closes with 4403 and the owner keeps its session and its current token', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const first = await openSession(server)
    await dropAndSuspend(server, first)
    // The resume spends the first token: the welcome hands out a new one.
    const owner = await resumeSession(server, first, 0)
    assert.equal(owner.welcome.resumed, true)
    assert.notEqual(owner.welcome.resumeToken, first.welcome.resumeToken)

    const stale = await refusedResume(server, first, 0)
    assert.equal(stale.code, 4403)
    const guessed = await refusedResume(server, { ...owner, welcome: { ...owner.welcome, resumeToken: 'A'.repeat(43) } }, 0)
    assert.equal(guessed.code, 4403)
    owner.peer.sendData(1, 'still mine')
    assert.equal(await nextAck(owner.peer), 1)
    assert.equal(owner.peer.socket.readyState, owner.peer.socket.OPEN, 'the owner was not replaced')

    await dropAndSuspend(server, owner)
    const back = await resumeSession(server, owner, 0)
    assert.equal(back.welcome.resumed, true, 'the current token still works')
  })

  test('[R-RS-7] a resume on another route closes with 4421 and the owner keeps its session', async (t) => {
    const app = await buildApp({}, (app) => {
      app.wsRoute('/r', { reliable: true }, () => {})
      app.wsRoute('/other', { reliable: true }, () => {})
    })
    t.after(() => cleanup(app))
    const base = await listen(app)
    const owner = await openPeer(`${base}/r`)
    owner.sendRaw(helloText())
    const welcome = await readWelcome(owner)
    const session = { peer: owner, welcome }

    const elsewhere = await openPeer(`${base}/other`)
    elsewhere.sendRaw(helloText(positionOf(session, 0)))
    const refused = await elsewhere.closed()
    assert.equal(refused.code, 4421)
    assert.equal(elsewhere.received.length, 0, 'no welcome')
    owner.sendData(1, 'still mine')
    assert.equal(await nextAck(owner), 1)

    owner.terminate()
    const back = await openPeer(`${base}/r`)
    back.sendRaw(helloText(positionOf(session, 0)))
    assert.equal((await readWelcome(back)).resumed, true, 'the owner resumes on its own route')
  })
})
