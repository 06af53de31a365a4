import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { DataFrame } from '../lib/protocol/frames.js'
import { resumeOf, startReliable } from './helpers/protocol-peer.js'
import type { ProtocolPeer } from './helpers/protocol-peer.js'
import { delay, waitFor, withExpiry } from './helpers/server.js'

/** The next frame of `type`, or a failure naming the close code if the server closes first. */
async function nextOrClose (peer: ProtocolPeer, type: 'A' | 'E'): Promise<DataFrame> {
  const closed = peer.closed(2500).then((info) => { throw new Error(`closed with ${info.code} before a ${type} frame`) })
  closed.catch(() => {})
  return (await Promise.race([peer.nextOfType(type), closed])).frame as DataFrame
}

/** The next frame of `type` as a decoded sequenced frame. */
async function nextSequenced (peer: ProtocolPeer, type: 'Q' | 'R' | 'E' | 'D'): Promise<DataFrame> {
  return (await peer.nextOfType(type)).frame as DataFrame
}

describe('server requests to the client', () => {
  test('request() resolves with the payload of the client response that refers to it', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const connection = server.connections[0]
    void connection.send('plain data first')
    const answer = connection.request('{"op":"sum","args":[1,2]}')
    const binaryAnswer = connection.request(Buffer.from([1, 2]))

    assert.equal((await peer.nextOfType('D')).raw, 'D1:plain data first')
    const question = await nextSequenced(peer, 'Q')
    assert.deepEqual([question.seq, question.payload], [2, '{"op":"sum","args":[1,2]}'])
    const binaryQuestion = await peer.nextOfType('Q')
    assert.equal(binaryQuestion.isBinary, true)
    assert.equal((binaryQuestion.frame as DataFrame).seq, 3)

    // Answered out of order: the ref, not the order, pairs them.
    peer.sendResponse(1, 3, new Uint8Array([3]))
    peer.sendResponse(2, 2, '3')
    assert.deepEqual(await binaryAnswer, Buffer.from([3]))
    assert.equal(await answer, '3')
    assert.equal((await peer.nextOfType('A')).raw, 'A2', 'responses are sequenced and acknowledged')
  })

  test('an error response rejects the request with FRWS_ERR_REQUEST_FAILED carrying the reason', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const answer = server.connections[0].request('explode')
    const question = await nextSequenced(peer, 'Q')
    peer.sendErrorResponse(1, question.seq, 'it blew up: badly')
    await assert.rejects(answer, (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FRWS_ERR_REQUEST_FAILED')
      assert.match(error.message, /it blew up: badly/)
      return true
    })
  })

  test('a request without an answer rejects with FRWS_ERR_REQUEST_TIMEOUT, and a late answer is dropped quietly', async (t) => {
    const server = await startReliable({ reliable: { requestTimeout: 150 } })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const connection = server.connections[0]
    const started = Date.now()
    const byDefault = connection.request('default timeout')
    const explicit = connection.request('explicit timeout', { timeout: 50 })
    const rejectedAfter = (promise: Promise<unknown>): Promise<number> =>
      withExpiry(assert.rejects(promise, { code: 'FRWS_ERR_REQUEST_TIMEOUT' }), 2000, 'the request timeout').then(() => Date.now() - started)
    const [explicitAfter, byDefaultAfter] = await Promise.all([rejectedAfter(explicit), rejectedAfter(byDefault)])
    // Within 2 s (a 30 s default fails here, not at the suite's timeout) and not earlier than the timeout (timers may fire a millisecond early).
    assert.ok(explicitAfter >= 45 && explicitAfter < 2000, `options.timeout 50 rejected after ${explicitAfter} ms`)
    assert.ok(byDefaultAfter >= 145 && byDefaultAfter < 2000, `reliable.requestTimeout 150 rejected after ${byDefaultAfter} ms`)

    const question = await nextSequenced(peer, 'Q')
    peer.sendResponse(1, question.seq, 'too late')
    assert.equal((await peer.nextOfType('A')).raw, 'A1', 'the late response still counts as delivered')
    assert.equal(peer.socket.readyState, peer.socket.OPEN)
    assert.deepEqual(server.messages, [], 'a response is never delivered as a message')
  })

  test('a request answered on a new connection after a drop still resolves', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const answer = server.connections[0].request('survive the drop')
    const question = await nextSequenced(peer, 'Q')
    peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspend event')

    const again = await server.peer()
    await again.handshake(resumeOf(welcome, question.seq))
    again.sendResponse(1, question.seq, 'answered later')
    assert.equal(await answer, 'answered later')
  })

  test('request() on an ended session rejects with FRWS_ERR_SESSION_ENDED', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const pending = server.connections[0].request('pending when it ends')
    await peer.nextOfType('Q')
    peer.socket.close(1000)
    await assert.rejects(pending, { code: 'FRWS_ERR_SESSION_ENDED' })
    await assert.rejects(server.connections[0].request('after the end'), { code: 'FRWS_ERR_SESSION_ENDED' })
  })
})

describe('client requests to the server', () => {
  test('a client request reaches the request listener and respond() sends an R frame referring to it', async (t) => {
    const server = await startReliable({ reliable: true }, {}, (connection) => {
      connection.on('request', (data, isBinary, respond) => {
        if (isBinary) respond(Buffer.concat([Buffer.from('bin:'), data as Buffer]))
        else if (data === 'fail') respond(new Error('refused on purpose'))
        else respond(`answer to ${String(data)}`)
      })
    })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    void server.connections[0].send('server data takes seq 1')
    peer.sendData(1, 'a message')
    peer.sendRequest(2, 'question')
    peer.sendRequest(3, new Uint8Array([7]))
    peer.sendRequest(4, 'fail')

    assert.equal((await peer.nextOfType('D')).raw, 'D1:server data takes seq 1')
    const frames: DataFrame[] = []
    while (frames.length < 3) {
      const entry = await peer.next()
      const frame = entry.frame as DataFrame
      if (frame.type !== ('A' as string)) frames.push(frame)
    }
    assert.deepEqual(frames.map((f) => [f.type, f.seq, f.ref]), [['R', 2, 2], ['R', 3, 3], ['E', 4, 4]])
    assert.equal(frames[0].payload, 'answer to question')
    assert.deepEqual(Buffer.from(frames[1].payload as Uint8Array), Buffer.from('bin:\x07'))
    assert.equal(frames[2].payload, 'refused on purpose')
    assert.deepEqual(server.messages.map((m) => m.data), ['a message'], 'requests are not messages')
  })

  test('a route without a request listener answers a client request with an error response', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    peer.sendRequest(1, 'anyone?')
    const answer = await nextSequenced(peer, 'E')
    assert.deepEqual([answer.seq, answer.ref], [1, 1])
    assert.match(String(answer.payload), /no request handler/)
    assert.equal(peer.socket.readyState, peer.socket.OPEN)
  })

  test('respond() called twice sends one answer', async (t) => {
    const server = await startReliable({ reliable: true }, {}, (connection) => {
      connection.on('request', (_data, _isBinary, respond) => { respond('first'); respond('second') })
    })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    peer.sendRequest(1, 'q')
    assert.equal((await peer.nextOfType('R')).raw, 'R1,1:first')
    // A second answer would have been written before the ack of this later message.
    peer.sendData(2, 'x')
    await peer.nextOfType('A')
    assert.deepEqual(peer.pending().filter((e) => !String(e.raw).startsWith('A')), [])
  })

  test('a response lost in a drop is replayed on resume with its ref', async (t) => {
    const server = await startReliable({ reliable: true }, {}, (connection) => {
      connection.on('request', (data, _isBinary, respond) => respond(`re: ${String(data)}`))
    })
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    peer.sendRequest(1, 'lost answer')
    await peer.nextOfType('R')
    peer.terminate()
    await waitFor(() => server.events.includes('suspend:1006'), 'the suspend event')

    const again = await server.peer()
    const resumed = await again.handshake(resumeOf(welcome))
    assert.equal(resumed.delivered, 1, 'the request was delivered once')
    assert.equal((await again.nextOfType('R')).raw, 'R1,1:re: lost answer')
  })

  test('a request listener that throws answers with an error response and keeps the connection open', async (t) => {
    const server = await startReliable({ reliable: true }, {}, (connection) => {
      connection.on('request', () => { throw new Error('request handler failed') })
    })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    peer.sendRequest(1, 'explode')
    const answer = await nextOrClose(peer, 'E')
    assert.equal(answer.ref, 1)
    peer.sendData(2, 'still there?')
    assert.equal((await nextOrClose(peer, 'A')).seq, 2)
    assert.equal(peer.socket.readyState, peer.socket.OPEN)
  })

  test('an async request listener that rejects answers with an error response', async (t) => {
    const server = await startReliable({ reliable: true }, {}, (connection) => {
      connection.on('request', async () => { throw new Error('async failure') })
    })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    peer.sendRequest(1, 'explode later')
    const answer = await nextOrClose(peer, 'E')
    assert.equal(answer.ref, 1)
  })

  test('a request that arrives before an async handler attaches its request listener is answered by it', async (t) => {
    const server = await startReliable({ reliable: true }, {}, async (connection) => {
      await delay(100)
      connection.on('request', (data, _isBinary, respond) => respond(`late listener got ${String(data)}`))
    })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    peer.sendRequest(1, 'early')
    const answer = await peer.nextOfType('R')
    assert.equal(answer.raw, 'R1,1:late listener got early')
  })
})
