import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { helloFrame, payloadOf, resumeOf } from '../helpers/protocol-peer.js'
import { refusedStatus, waitFor } from '../helpers/server.js'
import { GOOD_AUTH, startSecurityServer } from './security-server.js'

describe('a session belongs to its route', () => {
  test('a session made behind an auth hook is refused with 4421 on another route, and its owner carries on attached and suspended', async (t) => {
    const server = await startSecurityServer()
    t.after(() => server.stop())
    const owner = await server.peer('/guarded', GOOD_AUTH)
    const welcome = await owner.handshake()
    await waitFor(() => server.connections.length === 1, 'the guarded handler')
    void server.connections[0].send('guarded data')
    assert.equal(payloadOf(await owner.nextOfType('D')), 'guarded data')
    owner.sendData(1, 'from the owner')
    await owner.nextOfType('A')

    // Attached: the thief, with the id and even the current token, gets no welcome and no replay.
    const thief = await server.peer('/open')
    thief.sendRaw(helloFrame({ resume: resumeOf(welcome) }))
    const refused = await thief.closed(5000)
    assert.equal(refused.code, 4421)
    assert.match(refused.reason, /another route/)
    assert.equal(thief.received.length, 0, 'no welcome, no replayed frame')
    owner.sendData(2, 'still the owner')
    assert.equal((await owner.nextOfType('A')).raw, 'A2')
    assert.equal(owner.socket.readyState, owner.socket.OPEN, 'the owner was not replaced')

    // Suspended: refused again, and the owner resumes on its own route with the message replayed.
    owner.terminate()
    await server.waitForEvent('guarded:suspend')
    const second = await server.peer('/open')
    second.sendRaw(helloFrame({ resume: resumeOf(welcome) }))
    assert.equal((await second.closed(5000)).code, 4421)
    const back = await server.peer('/guarded', GOOD_AUTH)
    const resumed = await back.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)
    assert.equal(resumed.delivered, 2)
    assert.equal(payloadOf(await back.nextOfType('D')), 'guarded data', 'the unacknowledged message is replayed to the owner only')

    assert.deepEqual(server.received, { guarded: ['from the owner', 'still the owner'], open: [], room: [], principal: [] })
    assert.equal(server.connections.length, 1, 'no handler ran for the refused resumes')
    assert.deepEqual(server.events, ['guarded:suspend', 'guarded:resume'])
  })

  test("the route's hooks run again on every resume: without credentials the resume is refused before the upgrade", async (t) => {
    const server = await startSecurityServer()
    t.after(() => server.stop())
    const owner = await server.peer('/guarded', GOOD_AUTH)
    await owner.handshake()
    owner.terminate()
    await server.waitForEvent('guarded:suspend')
    assert.equal(await refusedStatus(`${server.base}/guarded`), 401)
    assert.equal(server.guardChecks(), 2)
    assert.deepEqual(server.events, ['guarded:suspend'])
  })

  test('a session of /room/a is refused with 4421 on /room/b of the same route pattern', async (t) => {
    const server = await startSecurityServer()
    t.after(() => server.stop())
    const owner = await server.peer('/room/a')
    const welcome = await owner.handshake()
    const other = await server.peer('/room/b')
    other.sendRaw(helloFrame({ resume: resumeOf(welcome) }))
    assert.equal((await other.closed(5000)).code, 4421)
    const sameRoom = await server.peer('/room/a?cache=1')
    const resumed = await sameRoom.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true, 'the query string is not part of the route identity')
  })

  test('a resume by another principal is still refused with 4401 (the principal check is unchanged)', async (t) => {
    const server = await startSecurityServer()
    t.after(() => server.stop())
    const alice = await server.peer('/principal', { 'x-user': 'alice' })
    const welcome = await alice.handshake()
    const mallory = await server.peer('/principal', { 'x-user': 'mallory' })
    mallory.sendRaw(helloFrame({ resume: resumeOf(welcome) }))
    assert.equal((await mallory.closed(5000)).code, 4401)
    alice.sendData(1, 'alice stays')
    assert.equal((await alice.nextOfType('A')).raw, 'A1')
  })
})
