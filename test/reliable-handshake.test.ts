import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { helloFrame, payloadOf, resumeOf, startReliable } from './helpers/protocol-peer.js'
import { PROTOCOL_VERSION, SUBPROTOCOL } from '../lib/protocol/version.js'
import { waitFor } from './helpers/server.js'

describe('reliable handshake', () => {
  test('a fresh hello gets a welcome with resumed false, delivered 0 and the route settings', async (t) => {
    const server = await startReliable({
      reliable: { sessionTimeout: 4321, ackInterval: 35, ackEvery: 7, maxUnacked: 99, maxUnackedBytes: 5555 },
      heartbeat: { pingInterval: 6000, pongTimeout: 3000 }
    }, { maxPayload: 2048 })
    t.after(() => server.stop())
    const peer = await server.peer()

    const welcome = await peer.handshake()

    assert.equal(welcome.version, PROTOCOL_VERSION)
    assert.match(welcome.resumeToken, /^[A-Za-z0-9_-]{43}$/, '32 random bytes in base64url')
    assert.equal(welcome.resumed, false)
    assert.equal(welcome.delivered, 0)
    assert.match(welcome.sessionId, /^[A-Za-z0-9_-]{1,128}$/)
    assert.match(welcome.epoch, /^[A-Za-z0-9_-]{1,64}$/)
    assert.deepEqual({
      pingInterval: welcome.pingInterval,
      pongTimeout: welcome.pongTimeout,
      ackInterval: welcome.ackInterval,
      ackEvery: welcome.ackEvery,
      maxPayload: welcome.maxPayload,
      maxUnacked: welcome.maxUnacked,
      maxUnackedBytes: welcome.maxUnackedBytes,
      sessionTimeout: welcome.sessionTimeout
    }, {
      pingInterval: 6000,
      pongTimeout: 3000,
      ackInterval: 35,
      ackEvery: 7,
      maxPayload: 2048,
      maxUnacked: 99,
      maxUnackedBytes: 5555,
      sessionTimeout: 4321
    })
    await waitFor(() => server.connections.length === 1, 'the handler to run')
    assert.equal(server.connections[0].sessionId, welcome.sessionId)
    assert.equal(server.connections[0].epoch, welcome.epoch)
    assert.equal(server.connections[0].resumedFromStore, false)
  })

  test('a route without a heartbeat announces pingInterval 0 so the client does not ping', async (t) => {
    const server = await startReliable({ reliable: true, heartbeat: false })
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    assert.equal(welcome.pingInterval, 0)
  })

  test('two fresh connections get different session ids', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const first = await server.peer()
    const second = await server.peer()
    const [a, b] = await Promise.all([first.handshake(), second.handshake()])
    assert.notEqual(a.sessionId, b.sessionId)
  })

  test('the server selects the subprotocol frws.v2 when the client offers it alone', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer({ protocols: [SUBPROTOCOL] })
    assert.equal(peer.socket.protocol, 'frws.v2')
  })

  test('the server selects frws.v2 among other offered subprotocols, not the first one offered', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer({ protocols: ['chat.v2', 'frws.v1', 'frws.v2'] })
    assert.equal(peer.socket.protocol, 'frws.v2')
  })

  test('a client that offers no subprotocol is still accepted and handshakes', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer({ protocols: [] })
    assert.equal(peer.socket.protocol, '')
    const welcome = await peer.handshake()
    assert.equal(welcome.resumed, false)
  })

  test('resuming an unknown session answers resumed false with a new session id', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake({ sessionId: 'no-such-session', epoch: 'e1', delivered: 7, token: 'x'.repeat(43) })
    assert.equal(welcome.resumed, false)
    assert.notEqual(welcome.sessionId, 'no-such-session')
    assert.equal(welcome.delivered, 0)
  })

  test('resuming with the wrong epoch answers resumed false with a new session and leaves the old one to its epoch', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const owner = await server.peer()
    const first = await owner.handshake()
    owner.sendData(1, 'kept')
    await owner.nextOfType('A')
    owner.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the session to be suspended')

    const stranger = await server.peer()
    const wrongEpoch = await stranger.handshake({ ...resumeOf(first), epoch: `${first.epoch}x` })
    assert.equal(wrongEpoch.resumed, false)
    assert.notEqual(wrongEpoch.sessionId, first.sessionId)
    assert.equal(wrongEpoch.delivered, 0)

    const back = await server.peer()
    const resumed = await back.handshake(resumeOf(first))
    assert.equal(resumed.resumed, true)
    assert.equal(resumed.delivered, 1)
  })

  test('a resume that claims more server messages than were sent starts a new session (continuity broke)', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    const first = await peer.handshake()
    peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the session to be suspended')

    const again = await server.peer()
    const welcome = await again.handshake(resumeOf(first, 5))
    assert.equal(welcome.resumed, false)
    assert.notEqual(welcome.sessionId, first.sessionId)
  })

  test('a resume behind the ack the client already sent is refused with 4400', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    const first = await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    void server.connections[0].send('one')
    void server.connections[0].send('two')
    await peer.nextOfType('D')
    await peer.nextOfType('D')
    peer.sendAck(2)
    await waitFor(() => server.connections[0].unackedCount === 0, 'the ack to arrive')
    peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the session to be suspended')

    const again = await server.peer()
    again.sendRaw(helloFrame({ resume: resumeOf(first, 1) }))
    const closed = await again.closed()
    assert.equal(closed.code, 4400)
  })

  test('a resume refused for another principal leaves the session with its owner, attached or suspended', async (t) => {
    const server = await startReliable({ reliable: { principal: (request) => (request.headers['x-user'] as string | undefined) ?? null } })
    t.after(() => server.stop())
    const alice = await server.peer({ headers: { 'x-user': 'alice' } })
    const welcome = await alice.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    alice.sendData(1, 'from alice')
    await alice.nextOfType('A')
    const resume = resumeOf(welcome)

    // While alice is attached: mallory is refused and alice's socket is not replaced.
    const mallory = await server.peer({ headers: { 'x-user': 'mallory' } })
    mallory.sendRaw(helloFrame({ resume }))
    await waitFor(() => mallory.socket.readyState !== mallory.socket.OPEN, 'the server to close the refused socket')
    alice.sendData(2, 'still alice')
    assert.equal((await alice.nextOfType('A')).raw, 'A2')
    assert.equal(alice.socket.readyState, alice.socket.OPEN)

    // While alice is away: an anonymous resume is refused too, and alice resumes afterwards.
    void server.connections[0].send('for alice')
    await alice.nextOfType('D')
    alice.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the session to be suspended')
    const anonymous = await server.peer()
    anonymous.sendRaw(helloFrame({ resume }))
    await waitFor(() => anonymous.socket.readyState !== anonymous.socket.OPEN, 'the server to close the refused socket')
    assert.equal(anonymous.received.length, 0, 'no welcome was sent to the refused client')

    const back = await server.peer({ headers: { 'x-user': 'alice' } })
    const resumed = await back.handshake(resume)
    assert.equal(resumed.resumed, true)
    assert.equal(resumed.sessionId, welcome.sessionId)
    assert.equal(resumed.delivered, 2)
    assert.equal(payloadOf(await back.nextOfType('D')), 'for alice')
    assert.deepEqual(server.messages.map((m) => m.data), ['from alice', 'still alice'])
    assert.equal(server.connections.length, 1, 'the handler ran once')
    assert.deepEqual(server.events, ['suspend:1006', 'resume'])
  })

  test('a resume while the old socket is still open moves the session and closes the old socket with 4409', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const old = await server.peer()
    const welcome = await old.handshake()
    old.sendData(1, 'a')
    await old.nextOfType('A')

    const fresh = await server.peer()
    const resumed = await fresh.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)
    assert.equal(resumed.delivered, 1)
    assert.equal((await old.closed()).code, 4409)
    fresh.sendData(2, 'b')
    await fresh.nextOfType('A')
    assert.deepEqual(server.messages.map((m) => m.data), ['a', 'b'])
    assert.equal(server.events.filter((e) => e.startsWith('close')).length, 0, 'the session did not end')
  })

  // Refusals during the handshake leave the server socket paused, so the client only sees the close
  // when ws's 30 s close timer fires; these tests run concurrently so the bug costs 2 s, not 2 s each.
  describe('refusals before the welcome', { concurrency: true }, () => {

    test('a resume by another principal is closed with 4401 and a reason', async (t) => {
      const server = await startReliable({ reliable: { principal: (request) => (request.headers['x-user'] as string | undefined) ?? null } })
      t.after(() => server.stop())
      const alice = await server.peer({ headers: { 'x-user': 'alice' } })
      const welcome = await alice.handshake()
      const mallory = await server.peer({ headers: { 'x-user': 'mallory' } })
      mallory.sendRaw(helloFrame({ resume: resumeOf(welcome) }))
      const closed = await mallory.closed()
      assert.equal(closed.code, 4401)
      assert.ok(closed.reason.length > 0, 'the close carries a reason')
    })

    test('a hello with an unsupported version is closed with 4426 and a reason listing the supported versions', async (t) => {
      const server = await startReliable()
      t.after(() => server.stop())
      const peer = await server.peer()
      peer.sendRaw(helloFrame({ version: 1 }))
      assert.deepEqual(await peer.closed(), { code: 4426, reason: 'unsupported protocol version 1 (supported: 2)' })
      assert.equal(server.connections.length, 0, 'the handler never ran')
    })

    const firstFrames: Array<[string, string | Buffer, RegExp]> = [
      ['a binary hello', Buffer.from(helloFrame()), /text hello/],
      ['a data frame', 'D1:hi', /hello/],
      ['an ack', 'A1', /hello/],
      ['an app-level ping', 'frws:ping', /hello/],
      ['a hello that is not JSON', 'H{version:1}', /JSON/],
      ['a hello whose resume is not an object', helloFrame({ extra: { resume: 7 } }), /resume/]
    ]
    for (const [what, first, reason] of firstFrames) {
      test(`${what} as the first frame is closed with 4400 and a reason`, async (t) => {
        const server = await startReliable()
        t.after(() => server.stop())
        const peer = await server.peer()
        peer.sendRaw(first, typeof first !== 'string')
        const closed = await peer.closed()
        assert.equal(closed.code, 4400)
        assert.match(closed.reason, reason)
        assert.equal(server.connections.length, 0, 'the handler never ran')
      })
    }

    test('a hello longer than 4096 characters is closed with 1009', async (t) => {
      const server = await startReliable()
      t.after(() => server.stop())
      const peer = await server.peer()
      peer.sendRaw(helloFrame({ extra: { padding: 'x'.repeat(4100) } }))
      assert.equal((await peer.closed()).code, 1009)
    })
  })

  test('a refused hello never reaches the handler and sends no welcome', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peers = await Promise.all([server.peer(), server.peer(), server.peer()])
    peers[0].sendRaw(helloFrame({ version: 1 }))
    peers[1].sendRaw('D1:hi')
    peers[2].sendRaw('H{version:1}')
    for (const peer of peers) await waitFor(() => peer.socket.readyState !== peer.socket.OPEN, 'the server to close the socket')
    assert.deepEqual(peers.map((peer) => peer.received.length), [0, 0, 0])
    assert.equal(server.connections.length, 0)
    assert.equal(server.app.wsConnections.size, 0)
  })

  test('no hello within handshakeTimeout is closed with 4408', async (t) => {
    const server = await startReliable({ reliable: true, handshakeTimeout: 200 })
    t.after(() => server.stop())
    const peer = await server.peer()
    const closed = await peer.closed(3000)
    assert.deepEqual(closed, { code: 4408, reason: 'handshake timeout' })
    assert.equal(server.connections.length, 0)
    assert.equal(server.app.wsConnections.size, 0)
  })

  test('a hello sent in time is not cut off by the handshake timer', async (t) => {
    const server = await startReliable({ reliable: true, handshakeTimeout: 200 })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await new Promise((resolve) => setTimeout(resolve, 400))
    peer.sendData(1, 'late but fine')
    assert.equal((await peer.nextOfType('A')).raw, 'A1')
    assert.equal(peer.socket.readyState, peer.socket.OPEN)
  })
})
