// Conformance of the project's client (lib/client) to the client-side rules of docs/PROTOCOL.md,
// against a scripted server that speaks raw frames (test/helpers/client-peer.ts).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ReliableClient, ReliableClientOptions } from '../../../lib/client/index.js'
import { ClientErrorCode } from '../../../lib/client/index.js'
import { encodeWelcome } from '../../../lib/protocol/handshake.js'
import { ScriptedPeer, WELCOME_DEFAULTS, nextEvent, settle, startClient } from '../../helpers/client-peer.js'
import type { PeerConnection } from '../../helpers/client-peer.js'
import { SUBPROTOCOL_NAME, VERSION } from './peer.js'

interface Rig {
  peer: ScriptedPeer
  client (options?: ReliableClientOptions): ReliableClient
}

/** A scripted server and the clients of one test, all closed after it. */
async function rig (t: { after: (fn: () => Promise<void>) => void }): Promise<Rig> {
  const peer = await ScriptedPeer.start()
  const clients: ReliableClient[] = []
  t.after(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await peer.close()
  })
  return {
    peer,
    client (options = {}) {
      const created = startClient(peer.url, options)
      clients.push(created)
      return created
    }
  }
}

/** Read frames until `count` non-ack frames came, returned raw. */
async function rawFrames (conn: PeerConnection, count: number): Promise<string[]> {
  const frames: string[] = []
  while (frames.length < count) {
    const raw = await conn.nextRaw()
    const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString()
    if (!text.startsWith('A')) frames.push(text)
  }
  return frames
}

describe('Client', () => {
  test('[R-CL-1] the client offers the subprotocol, says hello first with its resume position, and sends nothing else before the welcome', async (t) => {
    const { peer, client } = await rig(t)
    const c = client()
    const pending = c.send('early')
    const first = await peer.nextConnection()
    assert.equal(first.protocol, SUBPROTOCOL_NAME)
    assert.deepEqual(await first.next(), { type: 'H', version: VERSION })
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(first.unread, 0, 'nothing before the welcome')
    first.welcome({ sessionId: 's1', epoch: 'e1' })
    assert.equal((await first.nextRaw()), 'D1:early')
    first.send('D1:from server')
    first.send('D2:from server')
    await nextEvent(c, 'message')
    first.send('A1')
    await pending
    first.terminate()
    const second = await peer.nextConnection()
    assert.deepEqual(await second.next(), { type: 'H', version: VERSION, resume: { sessionId: 's1', epoch: 'e1', delivered: 2, token: 'resume-token-of-session-1' } })
  })

  test('[R-CL-2] with no welcome within handshakeTimeout the client closes with 4408 and reconnects without waiting for the close handshake', async (t) => {
    const { peer, client } = await rig(t)
    const c = client({ handshakeTimeout: 100 })
    const first = await peer.nextConnection()
    assert.equal((await first.next()).type, 'H')
    // The server stops reading: the client's close frame is never answered.
    first.socket.pause()
    const [closeEvent] = await nextEvent(c, 'close')
    assert.equal(closeEvent.code, 4408)
    assert.equal(closeEvent.willReconnect, true)
    const second = await peer.nextConnection()
    assert.equal((await second.next()).type, 'H')
    first.terminate()
  })

  test('[R-CL-3] a welcome that is malformed, incomplete, contradicts the hello or the log closes with 4400; another version with 4426; 1.0 is an integer', async (t) => {
    const { peer, client } = await rig(t)
    const body = (fields: Record<string, unknown>): string => 'W' + JSON.stringify({ ...WELCOME_DEFAULTS, ...fields })
    const { ackEvery: _omitted, ...incomplete } = WELCOME_DEFAULTS
    const bad: Array<[string, number]> = [
      ['W{"version":1', 4400],
      ['W' + JSON.stringify(incomplete), 4400],
      [body({ delivered: '0' }), 4400],
      [body({ resumed: 'false' }), 4400],
      [body({ delivered: 3 }), 4400],
      [body({ resumed: true }), 4400],
      [body({ version: VERSION + 1 }), 4426]
    ]
    // A slow reconnect keeps the next connection in this loop from being this client's retry.
    const slow = { baseDelay: 10_000, maxDelay: 10_000, random: () => 0.999 }
    for (const [welcome, code] of bad) {
      const c = client(slow)
      const conn = await peer.nextConnection()
      await conn.next()
      conn.send(welcome)
      assert.equal((await conn.closed).code, code, welcome)
      await c.close()
    }
    const lenient = client()
    const conn = await peer.nextConnection()
    await conn.next()
    conn.send(encodeWelcome(WELCOME_DEFAULTS).replace('"ackEvery":64', '"ackEvery":64.0'))
    await nextEvent(lenient, 'open')

    // Resumed: delivered above what the client sent, or below what the server already acked.
    for (const delivered of [5, 0]) {
      // A rig of its own: this client's retry after its 4400 must not reach the next iteration.
      const own = await rig(t)
      const c = own.client()
      const one = await own.peer.nextConnection()
      await one.handshake({ sessionId: `s${delivered}`, epoch: 'e' })
      void c.send('a')
      void c.send('b')
      await rawFrames(one, 2)
      one.send('A1')
      await new Promise((resolve) => setTimeout(resolve, 20))
      one.terminate()
      const two = await own.peer.nextConnection()
      await two.next()
      two.welcome({ sessionId: `s${delivered}`, epoch: 'e', resumed: true, delivered })
      assert.equal((await two.closed).code, 4400, `resumed with delivered ${delivered}`)
    }
  })

  test('[R-CL-4] on resumed true the client releases what the server delivered, replays the rest exactly as first sent, then what it queued offline with the next seqs', async (t) => {
    const { peer, client } = await rig(t)
    const c = client()
    const first = await peer.nextConnection()
    await first.handshake({ sessionId: 's', epoch: 'e' })
    await nextEvent(c, 'open')
    const sends = [c.send('one'), c.send(new Uint8Array([1, 2])), c.send('three')]
    const sent = await rawFrames(first, 3)
    first.terminate()
    await nextEvent(c, 'close')
    const offline = c.send('four, offline')
    const second = await peer.nextConnection()
    await second.handshake({ sessionId: 's', epoch: 'e', resumed: true, delivered: 1 })
    assert.equal((await settle(sends[0])).error, undefined, 'the welcome released seq 1')
    const replayed = await rawFrames(second, 3)
    assert.deepEqual(replayed, [sent[1], sent[2], 'D4:four, offline'])
    second.send('A4')
    await offline
  })

  test('[R-CL-5] on continuity loss, transmitted unacked messages fail and are not resent; untransmitted ones go out numbered from 1; answered requests are not lost; old answers are not sent', async (t) => {
    let answerLater: ((value: string) => void) | undefined
    const { peer, client } = await rig(t)
    const c = client({ onRequest: () => new Promise<string>((resolve) => { answerLater = resolve }) })
    const first = await peer.nextConnection()
    await first.handshake({ sessionId: 'old', epoch: 'e' })
    await nextEvent(c, 'open')
    const answered = c.request('q')
    const unacked = c.send('maybe lost')
    await rawFrames(first, 2)
    first.send('R1,1:answer')
    assert.equal((await settle(answered)).value, 'answer')
    first.send('Q2:server asks')
    await new Promise((resolve) => setTimeout(resolve, 30))
    first.terminate()
    await nextEvent(c, 'close')
    const queued = c.send('never transmitted')
    const second = await peer.nextConnection()
    const lost = nextEvent(c, 'continuityLost')
    await second.handshake({ sessionId: 'new', epoch: 'e2', resumed: false })
    const [event] = await lost
    assert.equal(event.lost, 1, 'only the unacked send; the answered request was delivered')
    assert.equal((await settle(unacked)).error instanceof Error, true)
    assert.equal(((await settle(unacked)).error as { code: string }).code, ClientErrorCode.CONTINUITY_LOST)
    answerLater?.('too late')
    assert.deepEqual(await rawFrames(second, 1), ['D1:never transmitted'])
    second.send('A1')
    await queued
    assert.equal(second.unread, 0, 'no answer to the old session request, no resend')
  })

  test('[R-CL-6] the client acks at once at ackEvery, within ackInterval otherwise, and flushes a pending ack before close()', async (t) => {
    const { peer, client } = await rig(t)
    const c = client()
    const conn = await peer.nextConnection()
    await conn.handshake({ ackEvery: 3, ackInterval: 60_000 })
    await nextEvent(c, 'open')
    for (let seq = 1; seq <= 3; seq++) conn.send(`D${seq}:m`)
    assert.equal(await conn.nextRaw(), 'A3')
    conn.send('D4:m')
    await nextEvent(c, 'message')
    await c.close()
    assert.equal(await conn.nextRaw(), 'A4')

    const timed = client()
    const other = await peer.nextConnection()
    await other.handshake({ ackEvery: 100, ackInterval: 40 })
    await nextEvent(timed, 'open')
    const sent = Date.now()
    other.send('D1:m')
    assert.equal(await other.nextRaw(), 'A1')
    assert.ok(Date.now() - sent >= 35, 'held back for about ackInterval')
  })

  test('[R-CL-7] the client pings after pingInterval of silence and drops the connection with 4408 when no message follows within pongTimeout; protocol pings do not count', async (t) => {
    const { peer, client } = await rig(t)
    const c = client()
    const conn = await peer.nextConnection()
    await conn.handshake({ pingInterval: 60, pongTimeout: 80 })
    await nextEvent(c, 'open')
    const ping = await conn.nextRaw()
    assert.match(String(ping), /^frws:ping(:[\x21-\x7e]{1,64})?$/)
    conn.send(String(ping).replace('ping', 'pong'))
    const again = await conn.nextRaw()
    assert.match(String(again), /^frws:ping/, 'the pong proved life; silence again, another ping')
    // Only WebSocket-level pings from now on, and the server stops reading: the close is never answered.
    conn.socket.pause()
    const keepAlive = setInterval(() => conn.socket.ping(), 10)
    t.after(() => clearInterval(keepAlive))
    const [closeEvent] = await nextEvent(c, 'close')
    clearInterval(keepAlive)
    assert.equal(closeEvent.code, 4408)
    assert.equal(closeEvent.willReconnect, true)
    const next = await peer.nextConnection()
    assert.equal((await next.next()).type, 'H', 'reconnected without waiting for the close handshake')
    conn.terminate()
  })

  test('[R-CL-8] with pingInterval 0 the client never pings', async (t) => {
    const { peer, client } = await rig(t)
    const c = client()
    const conn = await peer.nextConnection()
    await conn.handshake({ pingInterval: 0, pongTimeout: 0, ackInterval: 150 })
    await nextEvent(c, 'open')
    conn.send('D1:m')
    // The ack comes ackInterval later: the first frame the client sends in all that time.
    assert.equal(await conn.nextRaw(), 'A1')
  })

  test('[R-CL-9] sizes: a send over maxPayload is refused locally; sends queued before the first welcome are checked against it; a server frame over it closes with 4400', async (t) => {
    const { peer, client } = await rig(t)
    const c = client()
    const early = c.send('x'.repeat(200))
    const fits = c.send('small')
    const conn = await peer.nextConnection()
    await conn.handshake({ maxPayload: 100 })
    assert.equal(((await settle(early)).error as { code: string }).code, ClientErrorCode.MESSAGE_TOO_BIG)
    assert.equal(await conn.nextRaw(), 'D1:small')
    const late = c.send('y'.repeat(98))
    assert.equal(((await settle(late)).error as { code: string }).code, ClientErrorCode.MESSAGE_TOO_BIG)
    conn.send('A1')
    await fits
    conn.send('D1:' + 'z'.repeat(98))
    assert.equal((await conn.closed).code, 4400)
  })

  test('[R-CL-10] a send beyond maxUnacked is refused at once with a coded error and not transmitted; the session carries on', async (t) => {
    const { peer, client } = await rig(t)
    const c = client({ maxUnacked: 2 })
    const conn = await peer.nextConnection()
    await conn.handshake()
    await nextEvent(c, 'open')
    void c.send('1')
    void c.send('2')
    const refused = await settle(c.send('3'))
    assert.equal((refused.error as { code: string }).code, ClientErrorCode.BUFFER_FULL)
    assert.deepEqual(await rawFrames(conn, 2), ['D1:1', 'D2:2'])
    conn.send('A2')
    await new Promise((resolve) => setTimeout(resolve, 20))
    const after = c.send('4')
    assert.deepEqual(await rawFrames(conn, 1), ['D3:4'])
    conn.send('A3')
    await after
  })

  test('[R-CL-11] the client follows the close-code table: gives up on 1000, 1003, 1007, 1008, 1009, 4400, 4409, 4426; reconnects with capped full-jitter backoff otherwise', async (t) => {
    const { peer, client } = await rig(t)
    for (const code of [1000, 1003, 1007, 1008, 1009, 4400, 4409, 4426]) {
      const c = client()
      const conn = await peer.nextConnection()
      await conn.handshake()
      await nextEvent(c, 'open')
      conn.socket.close(code, 'scripted')
      const [end] = await nextEvent(c, 'end')
      assert.equal(end.code, code)
      assert.equal(peer.pending, 0, `no reconnect after ${code}`)
    }
    for (const code of [1001, 1011, 4408, 4413]) {
      const c = client({ baseDelay: 40, maxDelay: 100, random: () => 0.999 })
      const conn = await peer.nextConnection()
      await conn.handshake()
      await nextEvent(c, 'open')
      conn.socket.close(code, 'scripted')
      const [reconnecting] = await nextEvent(c, 'reconnecting')
      assert.ok(reconnecting.delay <= 40, `first delay within baseDelay after ${code}: ${reconnecting.delay}`)
      const next = await peer.nextConnection()
      assert.equal((await next.next()).type, 'H')
      next.terminate()
      const [again] = await nextEvent(c, 'reconnecting')
      assert.ok(again.delay > 40 && again.delay <= 80, `the ceiling doubles: ${again.delay}`)
      await c.close()
    }
  })
})
