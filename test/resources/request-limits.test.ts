import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { DataFrame } from '../../lib/protocol/frames.js'
import type { Respond } from '../../lib/index.js'
import { PENDING_PAUSE_THRESHOLD } from '../../lib/message-queue.js'
import { resumeOf, startReliable } from '../helpers/protocol-peer.js'
import type { ProtocolPeer } from '../helpers/protocol-peer.js'
import { buildApp, cleanup, echoRoute, listen, openClient, waitFor } from '../helpers/server.js'

/** Take the next `count` frames of `type` (other frames stay queued). */
async function framesOfType (peer: ProtocolPeer, type: 'Q' | 'R' | 'E', count: number): Promise<DataFrame[]> {
  const frames: DataFrame[] = []
  while (frames.length < count) frames.push((await peer.nextOfType(type, 5000)).frame as DataFrame)
  return frames
}

/** One round trip on another app: proof that the event loop turned many times, not a bare sleep. */
async function timePassed (): Promise<void> {
  const app = await buildApp({}, echoRoute)
  const client = await openClient(`${await listen(app)}/ws`)
  for (let i = 0; i < 20; i++) {
    client.socket.send(`tick ${i}`)
    await client.next()
  }
  await cleanup(app)
}

describe('server requests in flight', () => {
  test('request() beyond maxRequestsInFlight rejects at once with FRWS_ERR_REQUEST_LIMIT and sends nothing', async (t) => {
    const server = await startReliable({ reliable: { maxRequestsInFlight: 3 } })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    const connection = server.connections[0]
    const answers = [1, 2, 3].map((n) => connection.request(`q${n}`))
    await assert.rejects(connection.request('q4'), { code: 'FRWS_ERR_REQUEST_LIMIT', message: 'Too many requests in flight (limit 3)' })
    void connection.send('after the refused request')
    const sent = await framesOfType(peer, 'Q', 3)
    assert.deepEqual(sent.map((frame) => frame.payload), ['q1', 'q2', 'q3'])
    assert.equal((await peer.nextOfType('D')).raw, 'D4:after the refused request', 'the refused request took no seq and no frame')

    peer.sendResponse(1, 1, 'a1')
    assert.equal(await answers[0], 'a1')
    const fourth = connection.request('q4 again')
    assert.equal((await peer.nextOfType('Q')).raw, 'Q5:q4 again', 'an answer frees a slot')
    peer.sendResponse(2, 5, 'a4')
    assert.equal(await fourth, 'a4')
  })
})

describe('client requests in flight', () => {
  test('a client with more unanswered requests than allowed is closed with 4429; the session is kept and the request replayed after the resume', async (t) => {
    const held: Respond[] = []
    const server = await startReliable({ reliable: { maxRequestsInFlight: 3 } }, {}, (connection) => {
      connection.on('request', (data, _isBinary, respond) => {
        if (data === 'quick') respond('done')
        else held.push(respond)
      })
    })
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    for (let seq = 1; seq <= 4; seq++) peer.sendRequest(seq, `slow ${seq}`)
    const close = await peer.closed(3000)
    assert.deepEqual(close, { code: 4429, reason: 'too many requests in flight' })
    await waitFor(() => server.events.length > 0, 'the suspend')
    assert.deepEqual(server.events, ['suspend:4429'])
    assert.equal(server.connections[0].delivered, 3, 'the fourth request was not delivered')
    assert.equal(held.length, 3)

    for (const respond of held) respond('answered while away')
    const again = await server.peer()
    const resumed = await again.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)
    assert.equal(resumed.delivered, 3)
    const answers = await framesOfType(again, 'R', 3)
    assert.deepEqual(answers.map((frame) => frame.ref), [1, 2, 3])
    again.sendRequest(4, 'quick')
    const fourth = (await again.nextOfType('R')).frame as DataFrame
    assert.deepEqual([fourth.ref, fourth.payload], [4, 'done'])
  })

  test('requests answered at once never count against the limit', async (t) => {
    const server = await startReliable({ reliable: { maxRequestsInFlight: 2 } }, {}, (connection) => {
      connection.on('request', (data, _isBinary, respond) => respond(`re ${String(data)}`))
    })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    for (let seq = 1; seq <= 50; seq++) peer.sendRequest(seq, String(seq))
    const answers = await framesOfType(peer, 'R', 50)
    assert.equal(answers.at(-1)?.payload, 're 50')
    assert.equal(peer.socket.readyState, peer.socket.OPEN)
  })

  test(`requests queued before the request listener exists pause the socket at ${PENDING_PAUSE_THRESHOLD}, and reading resumes when a listener appears`, async (t) => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => { release = resolve })
    // This peer never acks: 3,000 answers held for it would pass the default 2 MiB session budget (4413).
    const server = await startReliable({ reliable: true }, { sessionBudget: { maxSessionBytes: 8 * 1024 * 1024 } }, async (connection) => {
      await gate
      connection.on('request', (data, _isBinary, respond) => respond(`re ${String(data)}`))
    })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    // ~600 KB of requests: far more than one read of the socket (64 KiB), whose rest ws still parses after the pause.
    const total = 3000
    const padding = 'p'.repeat(200)
    for (let seq = 1; seq <= total; seq++) peer.sendRequest(seq, `${seq} ${padding}`)
    await waitFor(() => server.connections.length === 1 && server.connections[0].socket.isPaused, 'the socket to pause')
    const connection = server.connections[0]
    const readWhenPaused = connection.delivered
    assert.ok(readWhenPaused >= PENDING_PAUSE_THRESHOLD && readWhenPaused < total, `stopped reading after ${readWhenPaused} requests`)
    await timePassed()
    assert.equal(connection.delivered, readWhenPaused, 'nothing more was read while paused')
    assert.equal(connection.socket.isPaused, true)

    release()
    const answers = await framesOfType(peer, 'R', total)
    assert.deepEqual(answers.map((frame) => frame.ref), Array.from({ length: total }, (_, i) => i + 1))
    assert.equal(answers[0].payload, `re 1 ${padding}`)
    assert.equal(connection.socket.isPaused, false)
    assert.equal(connection.delivered, total)
  })

  test('when the handler settles without a request listener the queue is answered with errors and reading resumes', async (t) => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => { release = resolve })
    const server = await startReliable({ reliable: true }, {}, async (connection) => {
      connection.on('message', () => {})
      await gate
    })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    const total = PENDING_PAUSE_THRESHOLD + 100
    for (let seq = 1; seq <= total; seq++) peer.sendRequest(seq, String(seq))
    await waitFor(() => server.connections.length === 1 && server.connections[0].socket.isPaused, 'the socket to pause')
    release()
    const refusals = await framesOfType(peer, 'E', total)
    assert.match(String(refusals[0].payload), /no request handler/)
    assert.equal(server.connections[0].socket.isPaused, false)
    peer.sendData(total + 1, 'still read')
    await waitFor(() => server.messages.length === 1, 'the message after the refusals')
  })

  test('reliable.maxRequestsInFlight is checked at wsRoute()', async (t) => {
    const app = await buildApp({})
    t.after(() => app.close())
    for (const value of [0, 1.5, 'many']) {
      assert.throws(() => app.wsRoute('/x', { reliable: { maxRequestsInFlight: value as number } }, () => {}), /"reliable\.maxRequestsInFlight"/)
    }
  })
})
