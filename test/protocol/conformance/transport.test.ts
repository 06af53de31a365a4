// Conformance: docs/PROTOCOL.md "Transport" (route, subprotocol, text and binary, size), over raw frames.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { SUPPORTED_VERSIONS } from '../../../lib/protocol/version.js'
import { buildApp, listen, rawUpgrade, waitFor } from '../../helpers/server.js'
import { helloText, nextAck, nextSequenced, openSession, resumeSession, startServer, SUBPROTOCOL_NAME, VERSION } from './peer.js'

describe('Transport', () => {
  test('[R-TR-1] authentication runs on the upgrade of every connection, the resuming ones included', async (t) => {
    const server = await startServer({
      reliable: true,
      onRequest: async (request, reply) => {
        if (request.headers.authorization !== 'Bearer ok') await reply.code(401).send('no')
      }
    })
    t.after(() => server.stop())
    await assert.rejects(server.peer(), /HTTP 401/)
    const session = await openSession(server, { headers: { authorization: 'Bearer ok' } })
    session.peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspension')
    await assert.rejects(server.peer(), /HTTP 401/, 'a reconnect without credentials is refused like a first connect')
    const back = await resumeSession(server, session, 0, { headers: { authorization: 'Bearer ok' } })
    assert.equal(back.welcome.resumed, true)
  })

  test('[R-TR-2] the server selects the newest frws.vN it speaks among those offered, else the newest frws.vN offered, never another name, and never refuses the upgrade over it', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const newest = Math.max(...SUPPORTED_VERSIONS)
    const cases: Array<[string[], string | undefined]> = [
      [[SUBPROTOCOL_NAME], SUBPROTOCOL_NAME],
      [['foo', `frws.v${newest}`, 'frws.v0', `frws.v${newest + 7}`], `frws.v${newest}`],
      [[`frws.v${newest + 1}`, `frws.v${newest + 2}`, 'bar'], `frws.v${newest + 2}`],
      [['foo'], undefined],
      [['frws.v01', 'frws.vx'], undefined],
      [[], undefined]
    ]
    for (const [offered, selected] of cases) {
      const headers: Record<string, string> = offered.length > 0 ? { 'Sec-WebSocket-Protocol': offered.join(', ') } : {}
      const upgrade = await rawUpgrade(server.url, headers)
      upgrade.socket.destroy()
      assert.equal(upgrade.status, 101, `offered ${offered.join(', ')}`)
      assert.equal(/^sec-websocket-protocol: (.*)$/im.exec(upgrade.head)?.[1], selected, `offered ${offered.join(', ')}`)
    }
    // A plain route keeps ws's own rule: the application's subprotocol is its business.
    const app = await buildApp({}, (app) => { app.wsRoute('/plain', () => {}) })
    t.after(() => app.close())
    const plain = await rawUpgrade(`${await listen(app)}/plain`, { 'Sec-WebSocket-Protocol': 'foo, bar' })
    plain.socket.destroy()
    assert.match(plain.head, /^sec-websocket-protocol: foo\r?$/im)
  })

  test('[R-TR-3] on a connection that selected frws.vN, a hello with another version closes with 4426', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const unspoken = `frws.v${Math.max(...SUPPORTED_VERSIONS) + 1}`
    const cases: Array<[string, number]> = [
      [SUBPROTOCOL_NAME, VERSION + 1],
      [unspoken, VERSION],
      ...SUPPORTED_VERSIONS.filter((v) => v !== VERSION).map((v): [string, number] => [SUBPROTOCOL_NAME, v])
    ]
    for (const [protocol, version] of cases) {
      const peer = await server.peer({ protocols: [protocol] })
      assert.equal(peer.socket.protocol, protocol)
      peer.sendRaw(helloText(undefined, version))
      const closed = await peer.closed()
      assert.equal(closed.code, 4426)
      assert.match(closed.reason, /supported: /)
      assert.equal(peer.received.length, 0)
    }
  })

  test('[R-TR-4] control frames are text; payloads travel as text or binary as they were given; a binary control frame closes with 4400', async (t) => {
    const server = await startServer({ reliable: true }, {}, (connection) => {
      connection.on('message', (data) => { void connection.send(data) })
    })
    t.after(() => server.stop())
    const { peer } = await openSession(server)
    assert.equal(peer.received[0].isBinary, false, 'the welcome is text')
    peer.sendData(1, 'text')
    peer.sendData(2, new Uint8Array([68, 58, 0, 255]))
    const echoes = [await peer.nextOfType('D'), await peer.nextOfType('D')]
    assert.deepEqual(echoes.map((e) => e.isBinary), [false, true])
    assert.deepEqual(echoes[1].raw, Buffer.concat([Buffer.from('D2:'), Buffer.from([68, 58, 0, 255])]))
    assert.deepEqual(server.messages.map((m) => m.isBinary), [false, true])
    const ack = await peer.nextOfType('A')
    assert.equal(ack.isBinary, false)
    peer.sendPing('p')
    assert.equal((await peer.nextOfType('pong')).isBinary, false)

    for (const control of ['A1', 'frws:ping', 'E3,1:failed']) {
      const other = await openSession(server)
      other.peer.sendRaw(Buffer.from(control), true)
      assert.equal((await other.peer.closed()).code, 4400, `binary ${control}`)
    }
  })

  test('[R-SZ-1] a client frame over maxPayload closes with 1009 and ends the session', async (t) => {
    const maxPayload = 1024
    const server = await startServer({ reliable: true }, { maxPayload })
    t.after(() => server.stop())
    const session = await openSession(server)
    assert.equal(session.welcome.maxPayload, maxPayload)
    session.peer.sendData(1, 'x'.repeat(maxPayload - 3))
    assert.equal(await nextAck(session.peer), 1, 'a frame of exactly maxPayload bytes is accepted')
    session.peer.sendData(2, 'x'.repeat(maxPayload))
    assert.equal((await session.peer.closed()).code, 1009)
    await waitFor(() => server.events.includes('close:error'), 'the session to end')
    assert.equal((await resumeSession(server, session, 0)).welcome.resumed, false)
  })

  test('[R-SZ-2] the server never sends a frame over maxPayload: an oversized send is refused with a coded error, an oversized answer becomes an error response', async (t) => {
    const maxPayload = 1024
    const server = await startServer({ reliable: true }, { maxPayload }, (connection) => {
      connection.on('request', (data, _isBinary, respond) => respond(data))
    })
    t.after(() => server.stop())
    const { peer } = await openSession(server)
    const connection = server.connections[0]
    await assert.rejects(connection.send('y'.repeat(maxPayload)), { code: 'FRWS_ERR_MESSAGE_TOO_BIG' })
    void connection.send('fits')
    assert.equal(await nextSequenced(peer, 'D'), '1:fits', 'the refused send used no seq')

    // A request that fills the limit: its echo would not fit, so the answer is an error response.
    const payload = 'z'.repeat(maxPayload - 3)
    peer.sendRequest(1, payload)
    const answer = await nextSequenced(peer, 'E')
    assert.match(answer, /^2,1:response of \d+ bytes exceeds maxPayload 1024$/)
    for (const entry of peer.received) {
      const size = typeof entry.raw === 'string' ? Buffer.byteLength(entry.raw) : entry.raw.byteLength
      assert.ok(size <= maxPayload, `a server frame of ${size} bytes`)
    }
    assert.equal(peer.socket.readyState, peer.socket.OPEN, 'the session is unaffected')
  })
})
