import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { ClientErrorCode, type ReliableClient, type ReliableClientError, type ReliableClientOptions } from '../lib/client/index.js'
import type { Welcome } from '../lib/protocol/handshake.js'
import { ScriptedPeer, nextEvent, settle, startClient, type PeerConnection } from './helpers/client-peer.js'

const encoder = new TextEncoder()

describe('client messaging', () => {
  let peer: ScriptedPeer
  let clients: ReliableClient[] = []

  /** A client with an open session on the scripted peer. */
  async function connected (options: ReliableClientOptions = {}, welcome: Partial<Welcome> = {}): Promise<{ client: ReliableClient, conn: PeerConnection }> {
    const client = startClient(peer.url, options)
    clients.push(client)
    const conn = await peer.nextConnection()
    const opened = nextEvent(client, 'open')
    await conn.handshake(welcome)
    await opened
    return { client, conn }
  }

  /** Resolves once the client has processed everything the peer sent before: a server message makes the round trip. */
  async function roundTrip (client: ReliableClient, conn: PeerConnection, seq: number): Promise<void> {
    const received = nextEvent(client, 'message')
    conn.send(`D${seq}:barrier`)
    await received
  }

  beforeEach(async () => { peer = await ScriptedPeer.start() })
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()))
    clients = []
    await peer.close()
  })

  it('resolves send() only when the server acknowledges the message', async () => {
    const { client, conn } = await connected()
    let resolved = false
    const sent = client.send('hello').then(() => { resolved = true })
    assert.deepEqual(await conn.nextNonAck(), { type: 'D', seq: 1, ref: 0, payload: 'hello' })
    await roundTrip(client, conn, 1)
    assert.equal(resolved, false, 'not resolved before the ack')
    assert.equal(client.bufferedCount, 1)
    conn.send('A1')
    await sent
    assert.equal(client.bufferedCount, 0)
  })

  it('keeps text as text and bytes as bytes in both directions', async () => {
    const { client, conn } = await connected()
    void client.send(new Uint8Array([0, 1, 255]))
    void client.send(encoder.encode('ab').buffer)
    const first = await conn.nextNonAck()
    const second = await conn.nextNonAck()
    assert.deepEqual(first.type === 'D' && [...(first.payload as Uint8Array)], [0, 1, 255])
    assert.deepEqual(second.type === 'D' && [...(second.payload as Uint8Array)], [97, 98])
    const messages: Array<[string | Uint8Array, boolean]> = []
    const both = new Promise<void>((resolve) => client.on('message', (data, isBinary) => {
      if (messages.push([data, isBinary]) === 2) resolve()
    }))
    conn.send(new Uint8Array([...encoder.encode('D1:'), 7, 8]))
    conn.send('D2:text')
    await both
    assert.deepEqual(messages.map(([data, isBinary]) => [typeof data === 'string' ? data : [...data], isBinary]), [[[7, 8], true], ['text', false]])
  })

  it('rejects a send() with FRWS_ERR_CLIENT_ACK_TIMEOUT after its timeout but keeps the message for delivery', async () => {
    const { client, conn } = await connected()
    const started = Date.now()
    const outcome = await settle(client.send('slow', { timeout: 50 }), 2000)
    const after = Date.now() - started
    assert.equal((outcome.error as ReliableClientError).code, ClientErrorCode.ACK_TIMEOUT)
    assert.ok(after >= 45, `rejected after ${after} ms, timeout 50 ms`)
    assert.equal(client.bufferedCount, 1, 'the message stays in the log')
    assert.equal((await conn.nextNonAck()).seq, 1)
    conn.send('A1')
    await roundTrip(client, conn, 1)
    assert.equal(client.bufferedCount, 0)
  })

  it('resolves request() with the response and rejects with the reason of an error response', async () => {
    const { client, conn } = await connected()
    const answered = client.request('sum 1 2')
    const failing = client.request(new Uint8Array([1]))
    assert.deepEqual(await conn.nextNonAck(), { type: 'Q', seq: 1, ref: 0, payload: 'sum 1 2' })
    const binary = await conn.nextNonAck()
    assert.equal(binary.type === 'Q' && binary.seq, 2)
    conn.send('R1,1:3')
    conn.send('E2,2:request handler failed')
    assert.equal(await answered, '3')
    const outcome = await settle(failing)
    assert.equal((outcome.error as ReliableClientError).code, ClientErrorCode.REQUEST_FAILED)
    assert.equal((outcome.error as ReliableClientError).message, 'request handler failed')
  })

  it('rejects request() with FRWS_ERR_CLIENT_REQUEST_TIMEOUT and drops the late response', async () => {
    const { client, conn } = await connected({ requestTimeout: 50 })
    const outcome = await settle(client.request('slow'))
    assert.equal((outcome.error as ReliableClientError).code, ClientErrorCode.REQUEST_TIMEOUT)
    await conn.nextNonAck()
    conn.send('R1,1:too late')
    await roundTrip(client, conn, 2)
    assert.equal(client.state, 'open', 'a response nobody waits for is not an error')
  })

  it('answers server requests with onRequest, sync or async, and turns throws into error responses', async () => {
    const { conn } = await connected({
      onRequest: async (data) => {
        if (data === 'boom') throw new Error('handler exploded')
        if (data === 'bytes') return new Uint8Array([9])
        return `echo ${String(data)}`
      }
    })
    conn.send('Q1:hi')
    conn.send('Q2:boom')
    conn.send('Q3:bytes')
    const answers = [await conn.nextNonAck(), await conn.nextNonAck(), await conn.nextNonAck()]
    assert.deepEqual(answers.slice(0, 2), [
      { type: 'R', seq: 1, ref: 1, payload: 'echo hi' },
      { type: 'E', seq: 2, ref: 2, payload: 'handler exploded' }
    ])
    assert.equal(answers[2].type === 'R' && answers[2].ref, 3)
    assert.deepEqual(answers[2].type === 'R' && [...(answers[2].payload as Uint8Array)], [9])
  })

  it('answers server requests with an error response when there is no handler', async () => {
    const { conn } = await connected()
    conn.send('Q1:anyone?')
    assert.deepEqual(await conn.nextNonAck(), { type: 'E', seq: 1, ref: 1, payload: 'the client has no request handler' })
  })

  it('coalesces acks: one cumulative ack per ackEvery deliveries', async () => {
    const { client, conn } = await connected({}, { ackEvery: 3, ackInterval: 5000 })
    const received: unknown[] = []
    client.on('message', (data) => received.push(data))
    for (let seq = 1; seq <= 6; seq++) conn.send(`D${seq}:m${seq}`)
    assert.deepEqual(await conn.next(), { type: 'A', seq: 3 })
    assert.deepEqual(await conn.next(), { type: 'A', seq: 6 })
    assert.equal(received.length, 6)
  })

  it("acks a lone delivery after the welcome's ackInterval, not the client's default", async () => {
    const ackInterval = 400
    const { conn } = await connected({}, { ackInterval })
    const sent = Date.now()
    conn.send('D1:lonely')
    assert.deepEqual(await conn.next(ackInterval + 3000), { type: 'A', seq: 1 })
    const ackedAfter = Date.now() - sent
    // Timers may fire a millisecond early; the client's own default (20 ms) would ack far sooner.
    assert.ok(ackedAfter >= ackInterval - 10, `acked after ${ackedAfter} ms, ackInterval ${ackInterval} ms`)
    assert.ok(ackedAfter < ackInterval + 3000, `acked after ${ackedAfter} ms, ackInterval ${ackInterval} ms`)
  })

  it('flushes a pending ack before a normal close', async () => {
    const { client, conn } = await connected({}, { ackInterval: 60_000 })
    const received = nextEvent(client, 'message')
    conn.send('D1:last words')
    await received
    await client.close()
    assert.deepEqual(await conn.next(), { type: 'A', seq: 1 })
    assert.equal((await conn.closed).code, 1000)
  })

  it('queues sends made before the handshake and sends them in order after the welcome', async () => {
    const client = startClient(peer.url)
    clients.push(client)
    const first = client.send('one')
    void client.send('two')
    assert.equal(client.bufferedCount, 2)
    const conn = await peer.nextConnection()
    await conn.handshake()
    assert.deepEqual(await conn.nextNonAck(), { type: 'D', seq: 1, ref: 0, payload: 'one' })
    assert.deepEqual(await conn.nextNonAck(), { type: 'D', seq: 2, ref: 0, payload: 'two' })
    conn.send('A2')
    await first
  })

  it('rejects the send that overflows the offline queue with FRWS_ERR_CLIENT_BUFFER_FULL and keeps the others', async () => {
    const client = startClient(peer.url, { maxUnacked: 2 })
    clients.push(client)
    void client.send('a')
    void client.send('b')
    const overflow = await settle(client.send('c'))
    assert.equal((overflow.error as ReliableClientError).code, ClientErrorCode.BUFFER_FULL)
    assert.equal(client.bufferedCount, 2)
    const conn = await peer.nextConnection()
    await conn.handshake()
    assert.deepEqual(await conn.nextNonAck(), { type: 'D', seq: 1, ref: 0, payload: 'a' })
    assert.deepEqual(await conn.nextNonAck(), { type: 'D', seq: 2, ref: 0, payload: 'b' })
  })

  it('bounds the buffer by bytes too, an empty buffer taking one message of any size', async () => {
    const client = startClient(peer.url, { maxUnackedBytes: 10 })
    clients.push(client)
    void client.send('x'.repeat(50))
    const overflow = await settle(client.send('y'))
    assert.equal((overflow.error as ReliableClientError).code, ClientErrorCode.BUFFER_FULL)
    assert.equal(client.bufferedCount, 1)
  })

  it('refuses a message larger than the server\'s maxPayload with FRWS_ERR_CLIENT_MESSAGE_TOO_BIG without sending it', async () => {
    const { client, conn } = await connected({}, { maxPayload: 16 })
    const outcome = await settle(client.send('x'.repeat(20)))
    assert.equal((outcome.error as ReliableClientError).code, ClientErrorCode.MESSAGE_TOO_BIG)
    void client.send('fits')
    assert.deepEqual(await conn.nextNonAck(), { type: 'D', seq: 1, ref: 0, payload: 'fits' })
  })

  it('rejects invalid arguments with FRWS_ERR_CLIENT_INVALID_ARGUMENT', async () => {
    const { client } = await connected()
    const wrongType = await settle(client.send(42 as unknown as string))
    const wrongTimeout = await settle(client.request('x', { timeout: -1 }))
    assert.equal((wrongType.error as ReliableClientError).code, ClientErrorCode.INVALID_ARGUMENT)
    assert.equal((wrongTimeout.error as ReliableClientError).code, ClientErrorCode.INVALID_ARGUMENT)
  })
  it('raises no unhandled rejection for send() promises nobody awaits, whether refused at once, timed out or failed by close()', async () => {
    const unhandled: unknown[] = []
    const record = (reason: unknown): void => { unhandled.push(reason) }
    process.on('unhandledRejection', record)
    try {
      const { client } = await connected({ maxUnacked: 2 })
      void client.send(42 as unknown as string)
      void client.send('timed out', { timeout: 0 })
      void client.send('pending')
      void client.send('overflow')
      const alsoOverflowing = client.send('also overflowing')
      await client.close()
      void client.send('after close')
      // Unhandled rejections are reported after the microtasks of a macrotask: let two turns pass.
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(unhandled, [])
      // The promises do reject for whoever awaits them.
      assert.equal(((await settle(alsoOverflowing)).error as ReliableClientError).code, ClientErrorCode.BUFFER_FULL)
    } finally {
      process.off('unhandledRejection', record)
    }
  })
})
