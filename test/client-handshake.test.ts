import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { ReliableClient, ClientErrorCode, ReliableClientError, type ReliableClientOptions } from '../lib/client/index.js'
import { ScriptedPeer, nextEvent, settle, startClient } from './helpers/client-peer.js'

describe('client handshake', () => {
  let peer: ScriptedPeer
  let clients: ReliableClient[] = []

  function client (options: ReliableClientOptions = {}): ReliableClient {
    const created = startClient(peer.url, options)
    clients.push(created)
    return created
  }

  beforeEach(async () => { peer = await ScriptedPeer.start() })
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()))
    clients = []
    await peer.close()
  })

  it('offers frws.v2 and sends a hello without resume first, then opens on the welcome', async () => {
    const c = client()
    assert.equal(c.state, 'connecting')
    const conn = await peer.nextConnection()
    assert.equal(conn.protocol, 'frws.v2')
    const opened = nextEvent(c, 'open')
    const hello = await conn.handshake({ sessionId: 'abc', epoch: 'e9' })
    assert.deepEqual(hello, { type: 'H', version: 2 })
    const [event] = await opened
    assert.deepEqual(event, { sessionId: 'abc' })
    assert.equal(c.state, 'open')
    assert.equal(c.sessionId, 'abc')
  })

  it('closes with 4408 and reconnects when no welcome arrives within handshakeTimeout', async () => {
    const c = client({ handshakeTimeout: 100 })
    const first = await peer.nextConnection()
    assert.equal((await first.next()).type, 'H')
    const [closeEvent] = await nextEvent(c, 'close')
    assert.equal(closeEvent.code, 4408)
    assert.equal(closeEvent.willReconnect, true)
    assert.equal((await first.closed).code, 4408)
    const second = await peer.nextConnection()
    const hello = await second.handshake()
    assert.equal(hello.resume, undefined, 'no session existed yet, so nothing to resume')
    await nextEvent(c, 'open')
  })

  for (const code of [1000, 1008, 4400, 4401, 4409, 4426]) {
    it(`stops reconnecting when the server closes with ${code}`, async () => {
      // Every reconnect draws its backoff delay from `random`: no draw, no reconnect scheduled.
      let draws = 0
      const c = client({ random: () => { draws++; return 0.5 } })
      const conn = await peer.nextConnection()
      await conn.handshake()
      await nextEvent(c, 'open')
      const pending = c.send('never acknowledged')
      const ended = nextEvent(c, 'end')
      conn.socket.close(code, 'scripted')
      const [end] = await ended
      assert.equal(end.code, code)
      assert.equal(end.error?.code, ClientErrorCode.GAVE_UP)
      assert.equal(end.error?.closeCode, code)
      assert.equal(c.state, 'closed')
      const outcome = await settle(pending)
      assert.equal((outcome.error as ReliableClientError).code, ClientErrorCode.GAVE_UP)
      assert.equal(draws, 0, 'no reconnect was scheduled')
      assert.equal(peer.pending, 0, 'no new connection after giving up')
    })
  }

  it('reconnects after 4401 when shouldRetry allows it, asking the url function for a fresh url', async () => {
    const urls: string[] = []
    const c = new ReliableClient(async () => {
      const url = `${peer.url}?token=${urls.length + 1}`
      urls.push(url)
      return url
    }, { WebSocket, baseDelay: 10, maxDelay: 20, shouldRetry: () => true })
    clients.push(c)
    const first = await peer.nextConnection()
    await first.handshake()
    await nextEvent(c, 'open')
    first.socket.close(4401, 'token expired')
    const second = await peer.nextConnection()
    const hello = await second.handshake({ resumed: true })
    assert.equal(hello.resume?.sessionId, 'session-1')
    assert.deepEqual(urls.map((url) => new URL(url).searchParams.get('token')), ['1', '2'])
    assert.deepEqual((await nextEvent(c, 'resumed'))[0], { continuity: true, sessionId: 'session-1' })
  })

  it('stops when shouldRetry returns false and hands it the close info', async () => {
    const seen: Array<{ code: number, reason: string }> = []
    const c = client({ shouldRetry: (info) => { seen.push(info); return false } })
    const conn = await peer.nextConnection()
    await conn.handshake()
    await nextEvent(c, 'open')
    conn.socket.close(1011, 'handler crashed')
    const [end] = await nextEvent(c, 'end')
    assert.deepEqual(seen, [{ code: 1011, reason: 'handler crashed' }])
    assert.match(end.error?.message ?? '', /shouldRetry returned false/)
  })

  it('stays idle after 4000 until the application sends again', async () => {
    let draws = 0
    const c = client({ random: () => { draws++; return 0.5 } })
    const first = await peer.nextConnection()
    await first.handshake()
    await nextEvent(c, 'open')
    first.socket.close(4000, 'idle timeout')
    const [closeEvent] = await nextEvent(c, 'close')
    assert.equal(closeEvent.willReconnect, false)
    assert.equal(c.state, 'idle')
    // A marker connection opened now reaches the peer before any reconnect could (none is scheduled: no backoff draw).
    const marker = new WebSocket(peer.url)
    marker.on('error', () => {})
    const markerConn = await peer.nextConnection()
    assert.equal(markerConn.protocol, '', 'the first connection after the close is the marker, not the client')
    markerConn.terminate()
    assert.equal(draws, 0, 'no reconnect was scheduled while idle')
    const sent = c.send('wake up')
    assert.equal(c.state, 'reconnecting')
    const second = await peer.nextConnection()
    const hello = await second.handshake({ resumed: true })
    assert.equal(hello.resume?.sessionId, 'session-1')
    const frame = await second.nextNonAck()
    assert.deepEqual(frame, { type: 'D', seq: 1, ref: 0, payload: 'wake up' })
    second.send('A1')
    await sent
  })

  it('close() closes the socket with the code and reason, ends the client and fails pending sends', async () => {
    const c = client()
    const conn = await peer.nextConnection()
    await conn.handshake()
    await nextEvent(c, 'open')
    const pending = c.send('unacknowledged')
    await conn.nextNonAck()
    const events: string[] = []
    c.on('close', (event) => events.push(`close ${event.code} ${String(event.willReconnect)}`))
    c.on('end', (event) => events.push(`end ${event.code} ${String(event.error)}`))
    const closed = c.close(4001, 'bye')
    assert.deepEqual(events, ['close 4001 false', 'end 4001 undefined'])
    assert.equal(c.state, 'closed')
    assert.equal(((await settle(pending)).error as ReliableClientError).code, ClientErrorCode.CLOSED)
    assert.deepEqual(await conn.closed, { code: 4001, reason: 'bye' })
    await closed
    const late = await settle(c.send('after close'))
    assert.equal((late.error as ReliableClientError).code, ClientErrorCode.CLOSED)
    assert.throws(() => c.close(1001), { code: ClientErrorCode.INVALID_ARGUMENT })
  })

  it('close() before the first connection opens no socket at all', async () => {
    const c = client()
    await c.close()
    assert.equal(c.state, 'closed')
    // A marker connection opened after the close arrives first and alone.
    const marker = new WebSocket(peer.url)
    marker.on('error', () => {})
    const markerConn = await peer.nextConnection()
    assert.equal(markerConn.protocol, '', 'the first connection is the marker, not the closed client')
    markerConn.terminate()
    await markerConn.closed
    assert.equal(peer.connections.length, 1)
  })
})

describe('client construction', () => {
  it('throws FRWS_ERR_CLIENT_NO_WEBSOCKET when there is no WebSocket implementation', () => {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket')
    Reflect.deleteProperty(globalThis, 'WebSocket')
    try {
      assert.throws(() => new ReliableClient('ws://127.0.0.1:1/ws'), { code: ClientErrorCode.NO_WEBSOCKET })
    } finally {
      if (descriptor !== undefined) Object.defineProperty(globalThis, 'WebSocket', descriptor)
    }
  })

  it('throws FRWS_ERR_CLIENT_INVALID_OPTION for invalid options instead of falling back to defaults', () => {
    for (const options of [
      { baseDelay: -1 }, { maxDelay: 10, baseDelay: 20 }, { maxAttempts: 1.5 }, { handshakeTimeout: 0 },
      { maxUnacked: 0 }, { requestTimeout: Number.NaN }, { shouldRetry: 'yes' }, { random: 3 }
    ]) {
      assert.throws(() => new ReliableClient('ws://127.0.0.1:1/ws', { WebSocket, ...options } as ReliableClientOptions),
        { code: ClientErrorCode.INVALID_OPTION }, JSON.stringify(options))
    }
  })
})
