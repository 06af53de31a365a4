import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { ClientErrorCode, type ReliableClient, type ReliableClientError, type ReliableClientOptions } from '../lib/client/index.js'
import { ScriptedPeer, WELCOME_DEFAULTS, nextEvent, settle, startClient, type PeerConnection } from './helpers/client-peer.js'

describe('client reconnect and resume', () => {
  let peer: ScriptedPeer
  let clients: ReliableClient[] = []

  async function connected (options: ReliableClientOptions = {}): Promise<{ client: ReliableClient, conn: PeerConnection }> {
    const client = startClient(peer.url, options)
    clients.push(client)
    const conn = await peer.nextConnection()
    const opened = nextEvent(client, 'open')
    await conn.handshake()
    await opened
    return { client, conn }
  }

  /** Collects the client's messages; `until(n)` waits for the n-th. */
  function collect (client: ReliableClient): { messages: Array<string | Uint8Array>, until: (n: number) => Promise<void> } {
    const messages: Array<string | Uint8Array> = []
    const waiters: Array<[number, () => void]> = []
    client.on('message', (data) => {
      messages.push(data)
      for (const [n, resolve] of waiters) if (messages.length >= n) resolve()
    })
    return {
      messages,
      until: (n) => new Promise((resolve) => {
        if (messages.length >= n) resolve()
        else waiters.push([n, resolve])
      })
    }
  }

  beforeEach(async () => { peer = await ScriptedPeer.start() })
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()))
    clients = []
    await peer.close()
  })

  it('reconnects after the peer drops the socket, resumes from its position and replays only unacked frames', async () => {
    const { client, conn } = await connected()
    const inbox = collect(client)
    const sends = ['a', 'b', 'c'].map((text) => client.send(text))
    for (let seq = 1; seq <= 3; seq++) assert.equal((await conn.nextNonAck()).seq, seq)
    conn.send('A1')
    conn.send('D1:x')
    conn.send('D2:y')
    await inbox.until(2)
    assert.deepEqual(await conn.next(), { type: 'A', seq: 2 })
    await sends[0]

    const reconnecting = nextEvent(client, 'reconnecting')
    conn.terminate()
    const [event] = await reconnecting
    assert.equal(event.attempt, 1)
    assert.equal(event.closeInfo.code, 1006)
    assert.equal(client.state, 'reconnecting')

    const second = await peer.nextConnection()
    const resumed = nextEvent(client, 'resumed')
    const hello = await second.handshake({ resumed: true, delivered: 2 })
    assert.deepEqual(hello.resume, { sessionId: 'session-1', epoch: 'epoch-1', delivered: 2, token: WELCOME_DEFAULTS.resumeToken })
    assert.deepEqual(await second.nextNonAck(), { type: 'D', seq: 3, ref: 0, payload: 'c' }, 'b was delivered, so only c is replayed')
    assert.deepEqual((await resumed)[0], { continuity: true, sessionId: 'session-1' })
    await sends[1]
    void client.send('d')
    assert.deepEqual(await second.nextNonAck(), { type: 'D', seq: 4, ref: 0, payload: 'd' })
    assert.equal(client.bufferedCount, 2, 'c and d await their ack')
    second.send('A4')
    await Promise.all(sends)
    assert.equal(client.bufferedCount, 0)
  })

  it('starts the attempt count again after every successful handshake, so maxAttempts counts failures in a row', async () => {
    // random 0.5 of baseDelay 10: attempt 1 waits 5 ms, attempt 2 would wait 10, attempt 3 would give up.
    const { client, conn } = await connected({ maxAttempts: 2, random: () => 0.5 })
    const events: Array<[number, number]> = []
    client.on('reconnecting', (event) => events.push([event.attempt, event.delay]))
    let current = conn
    for (let drop = 1; drop <= 4; drop++) {
      const reconnecting = nextEvent(client, 'reconnecting')
      current.terminate()
      await reconnecting
      current = await peer.nextConnection()
      const resumed = nextEvent(client, 'resumed')
      await current.handshake({ resumed: true })
      await resumed
    }
    assert.deepEqual(events, [[1, 5], [1, 5], [1, 5], [1, 5]])
    assert.equal(client.state, 'open')
  })

  it('delivers once the frames a resumed server replays that the client already had', async () => {
    const { client, conn } = await connected()
    const inbox = collect(client)
    conn.send('D1:one')
    conn.send('D2:two')
    await inbox.until(2)
    conn.terminate()
    const second = await peer.nextConnection()
    const hello = await second.handshake({ resumed: true })
    assert.equal(hello.resume?.delivered, 2)
    // A server that lost the ack replays from 1: the client must drop 1 and 2.
    second.send('D1:one')
    second.send('D2:two')
    second.send('D3:three')
    await inbox.until(3)
    assert.deepEqual(inbox.messages, ['one', 'two', 'three'])
  })

  it('reports continuity lost on resumed: false, fails transmitted sends and carries queued ones into the new session', async () => {
    const { client, conn } = await connected()
    const transmitted = client.send('in flight')
    const request = client.request('pending question')
    await conn.nextNonAck()
    await conn.nextNonAck()
    const closed = nextEvent(client, 'close')
    conn.terminate()
    await closed
    const queued = client.send('written while offline')
    assert.equal(client.bufferedCount, 3)

    const second = await peer.nextConnection()
    const lost = nextEvent(client, 'continuityLost')
    const resumed = nextEvent(client, 'resumed')
    const hello = await second.handshake({ sessionId: 'session-2', epoch: 'epoch-2', resumed: false })
    assert.equal(hello.resume?.sessionId, 'session-1')
    assert.deepEqual((await lost)[0], { previousSessionId: 'session-1', sessionId: 'session-2', lost: 2 })
    assert.deepEqual((await resumed)[0], { continuity: false, sessionId: 'session-2' })
    assert.equal(((await settle(transmitted)).error as ReliableClientError).code, ClientErrorCode.CONTINUITY_LOST)
    assert.equal(((await settle(request)).error as ReliableClientError).code, ClientErrorCode.CONTINUITY_LOST)
    assert.deepEqual(await second.nextNonAck(), { type: 'D', seq: 1, ref: 0, payload: 'written while offline' })
    second.send('A1')
    await queued
    assert.equal(client.sessionId, 'session-2')
    assert.equal(client.bufferedCount, 0)
  })

  it('starts the server direction over after continuity is lost', async () => {
    const { client, conn } = await connected()
    const inbox = collect(client)
    conn.send('D1:old')
    await inbox.until(1)
    conn.terminate()
    const second = await peer.nextConnection()
    await second.handshake({ sessionId: 'session-2', resumed: false })
    second.send('D1:new')
    await inbox.until(2)
    assert.deepEqual(inbox.messages, ['old', 'new'])
    second.terminate()
    const third = await peer.nextConnection()
    assert.equal((await third.handshake({ sessionId: 'session-2', resumed: true, delivered: 0 })).resume?.delivered, 1)
  })

  for (const [frame, why] of [['X1:?', 'unknown frame type'], ['D2:gap', 'gap'], ['A9', 'ack of a message never sent'], ['R1,5:x', 'response to a request never sent']]) {
    it(`closes with 4400 and reconnects on a malformed frame from the server (${why})`, async () => {
      const { client, conn } = await connected()
      const error = nextEvent(client, 'error')
      conn.send(frame)
      const [reported] = await error
      assert.equal(reported.code, ClientErrorCode.PROTOCOL)
      assert.equal(reported.closeCode, 4400)
      assert.equal((await conn.closed).code, 4400)
      const second = await peer.nextConnection()
      assert.equal((await second.handshake({ resumed: true })).resume?.sessionId, 'session-1')
      await nextEvent(client, 'resumed')
    })
  }

  it('closes with 4400 when the first frame is not a welcome, and when a resumed welcome names another session', async () => {
    const client = startClient(peer.url)
    clients.push(client)
    const first = await peer.nextConnection()
    await first.next()
    first.send('D1:too early')
    assert.equal((await first.closed).code, 4400)
    const second = await peer.nextConnection()
    await second.handshake()
    await nextEvent(client, 'open')
    second.terminate()
    const third = await peer.nextConnection()
    await third.handshake({ sessionId: 'someone-else', resumed: true })
    assert.equal((await third.closed).code, 4400)
  })

  it('gives up after three protocol errors in a row', async () => {
    const { client, conn } = await connected()
    const ended = nextEvent(client, 'end')
    conn.send('X')
    for (let i = 0; i < 3; i++) {
      const next = await peer.nextConnection()
      await next.handshake({ resumed: true })
      next.send('X')
    }
    const [end] = await ended
    assert.equal(end.error?.code, ClientErrorCode.GAVE_UP)
    assert.match(end.error?.message ?? '', /protocol errors in a row/)
  })
})
