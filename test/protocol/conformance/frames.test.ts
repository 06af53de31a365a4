// Conformance: docs/PROTOCOL.md "Frame grammar" and "Frames" (server side), over raw frames.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, listen } from '../../helpers/server.js'
import { openPeer } from '../../helpers/protocol-peer.js'
import { nextAck, nextSequenced, openSession, startServer } from './peer.js'

describe('Frames', () => {
  test('[R-FR-1] a frame that breaks the grammar closes with 4400 and a reason of at most 123 bytes', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const broken = [
      'X1:a', 'D:a', 'Dx:a', 'D1a', 'D01:a', 'D0:a', 'D9007199254740992:a', 'R1:a', 'R1,:a', 'E1,0:a',
      'A', 'A0', 'A01', 'A1 ', 'A1:x', 'frws:pingx', 'frws:ping:', `frws:ping:${'t'.repeat(65)}`, 'frws:ping:a b', ''
    ]
    for (const frame of broken) {
      const { peer } = await openSession(server)
      peer.sendRaw(frame)
      const closed = await peer.closed()
      assert.equal(closed.code, 4400, JSON.stringify(frame))
      assert.ok(closed.reason.length > 0 && Buffer.byteLength(closed.reason) <= 123, `reason for ${JSON.stringify(frame)}: ${closed.reason}`)
    }
  })

  test('[R-FR-2] an ack of a message never sent closes with 4400; a stale or repeated ack is ignored', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const { peer } = await openSession(server)
    const connection = server.connections[0]
    const sent = connection.send('one')
    await peer.nextOfType('D')
    peer.sendAck(1)
    await sent
    peer.sendAck(1)
    peer.sendPing('after-stale')
    assert.equal((await peer.nextOfType('pong')).raw, 'frws:pong:after-stale', 'the stale ack changed nothing')
    peer.sendAck(2)
    const closed = await peer.closed()
    assert.equal(closed.code, 4400)
    assert.match(closed.reason, /never sent|ack/)
  })

  test('[R-FR-3] an answer to a request never sent closes with 4400; an answer nobody waits for is dropped but acknowledged', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const { peer } = await openSession(server)
    const connection = server.connections[0]
    const timedOut = connection.request('q', { timeout: 1 })
    await assert.rejects(timedOut, { code: 'FRWS_ERR_REQUEST_TIMEOUT' })
    assert.equal(await nextSequenced(peer, 'Q'), '1:q')
    peer.sendResponse(1, 1, 'late answer')
    assert.equal(await nextAck(peer), 1, 'the late answer counts as delivered')
    assert.deepEqual(server.messages, [], 'and reaches no handler')
    peer.sendResponse(2, 5, 'to nothing')
    const closed = await peer.closed()
    assert.equal(closed.code, 4400)
    assert.match(closed.reason, /never sent/)
  })

  test('[R-FR-4] a ping is answered at once with a pong carrying its token; a pong is ignored', async (t) => {
    const server = await startServer()
    t.after(() => server.stop())
    const { peer } = await openSession(server)
    peer.sendRaw('frws:pong:unsolicited')
    peer.sendPing()
    peer.sendPing('~tok-9!')
    assert.equal((await peer.next()).raw, 'frws:pong')
    assert.equal((await peer.next()).raw, 'frws:pong:~tok-9!')
    assert.deepEqual(server.messages, [], 'pings and pongs are not delivered')
  })

  test('[R-FR-5] every request is answered exactly once: a response, or an error response when the handler fails or there is none', async (t) => {
    const server = await startServer({ reliable: true }, {}, (connection) => {
      connection.on('request', (data, _isBinary, respond) => {
        if (data === 'throw') throw new Error('secret detail')
        if (data === 'fail') { respond(new Error('nope')); return }
        respond(`re:${String(data)}`)
        respond('a second answer is ignored')
      })
    })
    t.after(() => server.stop())
    const { peer } = await openSession(server)
    peer.sendRequest(1, 'hi')
    peer.sendRequest(2, 'fail')
    peer.sendRequest(3, 'throw')
    peer.sendData(4, 'proof of order')
    const answers = [await peer.next(), await peer.next(), await peer.next()].map((e) => e.raw)
    assert.deepEqual(answers, ['R1,1:re:hi', 'E2,2:nope', 'E3,3:internal error'])
    assert.equal(await nextAck(peer), 4)
    assert.equal(peer.pending().length, 0, 'no second answer')

    const bare = await startServer()
    t.after(() => bare.stop())
    const other = await openSession(bare)
    other.peer.sendRequest(1, 'anyone?')
    assert.equal(await nextSequenced(other.peer, 'E'), '1,1:no request handler')
  })

  test('[R-FR-6] on a plain route with appPing, an exact ping is answered and not delivered; near misses are ordinary messages', async (t) => {
    const app = await buildApp({}, (app) => {
      app.wsRoute('/plain', { appPing: true }, (connection) => {
        connection.on('message', (data) => { void connection.send(`echo:${String(data)}`) })
      })
    })
    t.after(() => app.close())
    const peer = await openPeer(`${await listen(app)}/plain`, { protocols: [] })
    t.after(() => peer.terminate())
    for (const frame of ['frws:ping:17', 'frws:ping:', 'frws:pingx', 'frws:ping']) peer.sendRaw(frame)
    const seen = [await peer.next(), await peer.next(), await peer.next(), await peer.next()].map((e) => e.raw)
    assert.deepEqual(seen, ['frws:pong:17', 'echo:frws:ping:', 'echo:frws:pingx', 'frws:pong'])
  })
})
