// Conformance: docs/PROTOCOL.md "hello", "welcome" and "Handshake and resume" (server side), over raw frames.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Welcome } from '../../../lib/protocol/handshake.js'
import { SUPPORTED_VERSIONS } from '../../../lib/protocol/version.js'
import { helloText, nextAck, openSession, positionOf, readWelcome, resumeSession, startServer, VERSION } from './peer.js'

describe('Handshake', () => {
  test('[R-HS-1] a first frame other than a hello, and a second hello, close with 4400', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const early = await server.peer()
    early.sendData(1, 'too early')
    const first = await early.closed()
    assert.equal(first.code, 4400)
    assert.match(first.reason, /hello/)
    assert.equal(early.received.length, 0, 'no welcome for a connection that did not say hello')

    const pinger = await server.peer()
    pinger.sendPing('1')
    assert.equal((await pinger.closed()).code, 4400)

    const { peer } = await openSession(server)
    peer.sendRaw(helloText())
    const second = await peer.closed()
    assert.equal(second.code, 4400)
    assert.match(second.reason, /hello/)
  })

  test('[R-HS-2] a malformed hello closes with 4400 and a reason; integral numbers written as 1.0 and unknown fields are accepted', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const malformed = [
      'H{"version":1',
      'H[1]',
      'H{"version":"1"}',
      'H{"version":1.5}',
      'H{}',
      'H{"version":1,"resume":null}',
      'H{"version":1,"resume":{"sessionId":"a b","epoch":"e","delivered":0}}',
      'H{"version":1,"resume":{"sessionId":"s","epoch":"","delivered":0}}',
      'H{"version":1,"resume":{"sessionId":"s","epoch":"e","delivered":-1}}',
      'H{"version":1,"resume":{"sessionId":"s","epoch":"e"}}'
    ]
    for (const hello of malformed) {
      const peer = await server.peer()
      peer.sendRaw(hello.replace('"version":1', `"version":${VERSION}`))
      const closed = await peer.closed()
      assert.equal(closed.code, 4400, hello)
      assert.ok(closed.reason.length > 0, `a reason for ${hello}`)
    }
    const lenient = await server.peer()
    lenient.sendRaw(`H{"version":${VERSION}.0,"future":{"x":1}}`)
    const welcome = await readWelcome(lenient)
    assert.equal(welcome.version, VERSION)
    assert.equal(welcome.resumed, false)
  })

  test('[R-HS-3] a version the server does not speak closes with 4426 and a reason listing the supported versions', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const unknown = Math.max(...SUPPORTED_VERSIONS) + 1
    const peer = await server.peer({ protocols: [] })
    peer.sendRaw(helloText(undefined, unknown))
    const closed = await peer.closed()
    assert.equal(closed.code, 4426)
    assert.equal(closed.reason, `unsupported protocol version ${unknown} (supported: ${SUPPORTED_VERSIONS.join(', ')})`)
  })

  test('[R-HS-4] a hello over 4096 bytes of UTF-8 closes with 1009, even when it is under 4096 UTF-16 code units', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const padded = `H{"version":${VERSION},"pad":"${'é'.repeat(2100)}"}`
    assert.ok(padded.length < 4096 && Buffer.byteLength(padded) > 4096)
    const peer = await server.peer()
    peer.sendRaw(padded)
    const closed = await peer.closed()
    assert.equal(closed.code, 1009)
    assert.match(closed.reason, /4096 bytes/)

    const fits = `H{"version":${VERSION},"pad":"${'x'.repeat(4096 - 30)}"}`
    assert.ok(Buffer.byteLength(fits) <= 4096)
    const ok = await server.peer()
    ok.sendRaw(fits)
    assert.equal((await readWelcome(ok)).resumed, false)
  })

  test('[R-HS-5] no hello within handshakeTimeout closes with 4408', async (t) => {
    const handshakeTimeout = 150
    const server = await startServer({ reliable: true }, { handshakeTimeout })
    t.after(() => server.stop())
    const opened = Date.now()
    const peer = await server.peer()
    const closed = await peer.closed(5000)
    assert.equal(closed.code, 4408)
    assert.ok(Date.now() - opened >= handshakeTimeout - 5, 'not before handshakeTimeout')
  })

  test('[R-HS-6] frames pipelined after a fresh hello are processed in order after the welcome: data delivered and acked, ping answered', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const peer = await server.peer()
    // One write: the hello and the frames that follow it arrive in the same TCP chunk.
    peer.sendRaw(helloText())
    peer.sendData(1, 'piped')
    peer.sendPing('7')
    peer.sendData(2, 'second')
    const welcome = await readWelcome(peer)
    assert.equal(welcome.resumed, false)
    assert.equal((await peer.nextOfType('pong')).raw, 'frws:pong:7')
    assert.equal(await nextAck(peer), 2)
    assert.deepEqual(server.messages.map((m) => m.data), ['piped', 'second'])
  })

  test('[R-HS-6] frames pipelined after a resuming hello are processed after the welcome and the replay', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const first = await openSession(server)
    first.peer.sendData(1, 'one')
    assert.equal(await nextAck(first.peer), 1)
    first.peer.terminate()
    await new Promise((resolve) => setTimeout(resolve, 50))
    const peer = await server.peer()
    peer.sendRaw(helloText(positionOf(first, 0)))
    peer.sendData(2, 'piped after resume')
    const welcome = await readWelcome(peer)
    assert.equal(welcome.resumed, true)
    assert.equal(welcome.delivered, 1)
    assert.equal(await nextAck(peer), 2)
    assert.deepEqual(server.messages.map((m) => m.data), ['one', 'piped after resume'])
  })

  test('[R-HS-7] the welcome is the first frame and carries every field, typed, with the route settings', async (t) => {
    const server = await startServer({
      reliable: { ackInterval: 30, ackEvery: 16, maxUnacked: 100, maxUnackedBytes: 50_000, sessionTimeout: 5000 },
      heartbeat: { pingInterval: 2000, pongTimeout: 1000 }
    }, { maxPayload: 64 * 1024 })
    t.after(() => server.stop())
    const peer = await server.peer()
    peer.sendRaw(helloText())
    const first = await peer.next()
    assert.equal(typeof first.raw, 'string')
    assert.ok((first.raw as string).startsWith('W{'))
    const body = JSON.parse((first.raw as string).slice(1)) as Record<string, unknown>
    assert.deepEqual(Object.keys(body).sort(), [
      'ackEvery', 'ackInterval', 'delivered', 'epoch', 'maxPayload', 'maxUnacked', 'maxUnackedBytes',
      'pingInterval', 'pongTimeout', 'resumeToken', 'resumed', 'sessionId', 'sessionTimeout', 'version'
    ])
    assert.match(body.sessionId as string, /^[A-Za-z0-9_-]{1,128}$/)
    assert.match(body.epoch as string, /^[A-Za-z0-9_-]{1,64}$/)
    assert.match(body.resumeToken as string, /^[A-Za-z0-9_-]{43}$/, '256 random bits in base64url')
    assert.deepEqual({ ...body, sessionId: 'x', epoch: 'y', resumeToken: 'z' }, {
      version: VERSION,
      sessionId: 'x',
      epoch: 'y',
      resumeToken: 'z',
      resumed: false,
      delivered: 0,
      pingInterval: 2000,
      pongTimeout: 1000,
      ackInterval: 30,
      ackEvery: 16,
      maxPayload: 64 * 1024,
      maxUnacked: 100,
      maxUnackedBytes: 50_000,
      sessionTimeout: 5000
    })
    const again = await resumeSession(server, { peer, welcome: body as unknown as Welcome }, 0)
    assert.equal(again.welcome.resumed, true)
    assert.equal(again.welcome.sessionId, body.sessionId)
  })
})
