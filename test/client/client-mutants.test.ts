import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket, { WebSocketServer } from 'ws'
import { ReliableClient, ClientErrorCode, ReliableClientError, type ReliableClientOptions } from '../../lib/client/index.js'
import { encodeData, encodeRequest, encodeResponse } from '../../lib/protocol/frames.js'
import { encodeHello, encodeWelcome } from '../../lib/protocol/handshake.js'
import { zodChat } from '../messages/schemas.js'
import { SUBPROTOCOL } from '../../lib/protocol/version.js'
import { ScriptedPeer, WELCOME_DEFAULTS, nextEvent, settle, startClient } from '../helpers/client-peer.js'

/*
 * What lib/client/client.ts does at its edges, found by mutation testing (docs/TESTING.md): the
 * exact messages and codes of its errors, the url forms it takes, the frames it refuses from the
 * server, and the timers it leaves behind.
 */

/** Offers `chat` after frws.v2, so that a server may select it and `ws` accepts the choice. */
class ChatOfferingWebSocket extends WebSocket {
  constructor (url: string) {
    super(url, [SUBPROTOCOL, 'chat'])
  }
}

/** Offers no subprotocol, as a browser may open when the server selects none. */
class NothingOfferingWebSocket extends WebSocket {
  constructor (url: string) {
    super(url)
  }
}

/** Counts the sockets the client constructs. */
function countingWebSocket (): { count: () => number, WebSocket: new (url: string, protocols?: string | string[]) => WebSocket } {
  let constructed = 0
  class Counting extends WebSocket {
    constructor (url: string, protocols?: string | string[]) {
      constructed++
      super(url, protocols)
    }
  }
  return { count: () => constructed, WebSocket: Counting }
}

/** A `ws` server on 127.0.0.1 selecting what `select` returns; reports how its first socket closed. */
async function selectingServer (select: () => string | false): Promise<{ url: string, closed: Promise<{ code: number, reason: string }>, stop: () => Promise<void> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: select })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const closed = new Promise<{ code: number, reason: string }>((resolve) => {
    server.once('connection', (socket) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  })
  return {
    url: `ws://127.0.0.1:${(server.address() as { port: number }).port}/ws`,
    closed,
    stop: async () => {
      for (const socket of server.clients) socket.terminate()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** One turn of the event loop: every microtask queued before it has run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Real timers that remember which are still pending. */
function trackedTimers (): { pending: Set<unknown>, options: Pick<ReliableClientOptions, 'setTimeout' | 'clearTimeout'> } {
  const pending = new Set<unknown>()
  return {
    pending,
    options: {
      setTimeout: (fn: () => void, ms: number) => {
        const handle = setTimeout(() => { pending.delete(handle); fn() }, ms)
        pending.add(handle)
        return handle
      },
      clearTimeout: (handle: unknown) => {
        pending.delete(handle)
        clearTimeout(handle as NodeJS.Timeout)
      }
    }
  }
}

describe('client.ts at its edges', () => {
  let peer: ScriptedPeer
  let clients: ReliableClient[] = []

  function client (options: ReliableClientOptions = {}, url: ConstructorParameters<typeof ReliableClient>[0] = peer.url): ReliableClient {
    const created = startClient(url as string, options)
    clients.push(created)
    return created
  }

  beforeEach(async () => { peer = await ScriptedPeer.start() })
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()))
    clients = []
    await peer.close()
  })

  it('refuses a url that is neither a string, a URL nor a function, saying so', () => {
    assert.throws(() => new ReliableClient(42 as unknown as string, { WebSocket }), (error: unknown) => {
      assert.ok(error instanceof ReliableClientError)
      assert.equal(error.code, ClientErrorCode.INVALID_OPTION)
      assert.equal(error.message, 'url must be a string, a URL or a function returning one')
      return true
    })
  })

  it('connects to a URL object, to what a function returns and to what an async function resolves to', async () => {
    for (const url of [new URL(peer.url), () => peer.url, async () => new URL(peer.url)]) {
      const c = client({}, url as never)
      const conn = await peer.nextConnection()
      const opened = nextEvent(c, 'open')
      await conn.handshake()
      await opened
      assert.equal(c.state, 'open')
    }
  })

  for (const kind of ['throws', 'rejects'] as const) {
    it(`reports a url function that ${kind} as FRWS_ERR_CLIENT_CONNECTION, without a close event, and retries`, async () => {
      let calls = 0
      const failure = new Error('no token yet')
      const url = kind === 'throws'
        ? () => { if (calls++ === 0) throw failure; return peer.url }
        : async () => { if (calls++ === 0) throw failure; return peer.url }
      let closes = 0
      const c = client({}, url as never)
      c.on('close', () => { closes++ })
      const reported = nextEvent(c, 'error')
      const reconnected = nextEvent(c, 'reconnecting')
      const [error] = await reported
      assert.ok(error instanceof ReliableClientError)
      assert.equal(error.code, ClientErrorCode.CONNECTION)
      assert.equal(error.message, 'The url function failed: no token yet')
      assert.equal(error.cause, failure)
      const [reconnecting] = await reconnected
      assert.deepEqual(reconnecting.closeInfo, { code: 1006, reason: 'url function failed' })
      assert.equal(reconnecting.attempt, 1)
      assert.equal(c.state, 'connecting', 'no handshake yet')
      const conn = await peer.nextConnection()
      const opened = nextEvent(c, 'open')
      await conn.handshake()
      await opened
      assert.equal(calls, 2)
      assert.equal(closes, 0, 'no socket was open when the url function failed')
    })
  }

  it('gives up at once on a url the WebSocket constructor refuses, naming it', async () => {
    const c = new ReliableClient('not a url', { WebSocket })
    clients.push(c)
    const pending = c.send('never')
    const [end] = await nextEvent(c, 'end')
    assert.equal(end.code, 1006)
    assert.equal(end.reason, 'cannot open a WebSocket')
    assert.ok(end.error instanceof ReliableClientError)
    assert.equal(end.error.code, ClientErrorCode.GAVE_UP)
    assert.equal(end.error.closeCode, 1006)
    assert.match(end.error.message, /^Cannot open a WebSocket to not a url: \S/)
    assert.ok(end.error.cause instanceof Error)
    assert.equal(c.state, 'closed')
    assert.equal((await settle(pending)).error, end.error)
  })

  const NOT_RELIABLE = (what: string): string => `Not a reliable route: the server selected ${what} (expected "frws.v2"). ` +
    'Declare the route with { reliable: true }, or check the URL.'

  for (const [title, select, WebSocketImpl, what] of [
    ['the subprotocol the server selected', (): string | false => 'chat', ChatOfferingWebSocket, 'the subprotocol "chat"'],
    ['no subprotocol, with a socket that opens without one', (): string | false => false, NothingOfferingWebSocket, 'no subprotocol'],
    ['no subprotocol, with ws failing the handshake itself', (): string | false => false, WebSocket, 'no subprotocol']
  ] as const) {
    it(`ends with FRWS_ERR_CLIENT_NOT_RELIABLE_ROUTE naming ${title}`, async () => {
      const server = await selectingServer(select)
      try {
        const c = new ReliableClient(server.url, { WebSocket: WebSocketImpl })
        clients.push(c)
        const [end] = await nextEvent(c, 'end')
        assert.deepEqual({ code: end.code, reason: end.reason }, { code: 1000, reason: 'not a reliable route' })
        assert.equal(end.error?.code, ClientErrorCode.NOT_RELIABLE_ROUTE)
        assert.equal(end.error?.closeCode, 1000)
        assert.equal(end.error?.message, NOT_RELIABLE(what))
        if (WebSocketImpl !== WebSocket) assert.deepEqual(await server.closed, { code: 1000, reason: 'not a reliable route' })
      } finally {
        await server.stop()
      }
    })
  }

  it('reports a WebSocket error with its message, then reconnects', async () => {
    // A port that was just free: nothing listens there.
    const closedPeer = await ScriptedPeer.start()
    const deadUrl = closedPeer.url
    await closedPeer.close()
    let calls = 0
    const c = client({}, () => (calls++ === 0 ? deadUrl : peer.url))
    const reported = nextEvent(c, 'error')
    const closing = nextEvent(c, 'close')
    const [error] = await reported
    assert.ok(error instanceof ReliableClientError)
    assert.equal(error.code, ClientErrorCode.CONNECTION)
    assert.match(error.message, /^WebSocket error: \S/)
    assert.match(error.message, /ECONNREFUSED/)
    assert.notEqual(error.cause, undefined)
    const [closed] = await closing
    assert.equal(closed.willReconnect, true)
    const conn = await peer.nextConnection()
    await conn.handshake()
    await nextEvent(c, 'open')
  })

  it('closes with 4408 and a reason naming handshakeTimeout when no welcome comes', async () => {
    const c = client({ handshakeTimeout: 150 })
    const conn = await peer.nextConnection()
    assert.equal((await conn.next()).type, 'H')
    const [closed] = await nextEvent(c, 'close')
    assert.deepEqual({ code: closed.code, reason: closed.reason }, { code: 4408, reason: 'no welcome within handshakeTimeout (150 ms)' })
    assert.deepEqual(await conn.closed, { code: 4408, reason: 'no welcome within handshakeTimeout (150 ms)' })
  })

  describe('frames the server must not send', () => {
    async function refused (send: (conn: Awaited<ReturnType<ScriptedPeer['nextConnection']>>) => void, welcome = true, maxPayload = 100): Promise<{ error: ReliableClientError, closed: { code: number, reason: string } }> {
      const c = client()
      const conn = await peer.nextConnection()
      if (welcome) {
        const opened = nextEvent(c, 'open')
        await conn.handshake({ maxPayload })
        await opened
      } else {
        await conn.next()
      }
      const reported = nextEvent(c, 'error')
      send(conn)
      const [error] = await reported
      assert.ok(error instanceof ReliableClientError)
      assert.equal(error.code, ClientErrorCode.PROTOCOL)
      return { error, closed: await conn.closed }
    }

    it('a data frame first, instead of the welcome', async () => {
      const { error, closed } = await refused((conn) => conn.send(encodeData(1, 'early')), false)
      assert.equal(error.message, "The server broke the protocol: expected a welcome frame first, got a 'D' frame")
      assert.equal(error.closeCode, 4400)
      assert.deepEqual(closed, { code: 4400, reason: "expected a welcome frame first, got a 'D' frame" })
      // The client closed it, so it does not take 4400 as the server's verdict: it connects again.
      await peer.nextConnection()
    })

    it('a second welcome', async () => {
      const { error, closed } = await refused((conn) => conn.welcome(), true, 4096)
      assert.equal(error.message, 'The server broke the protocol: unexpected welcome frame after the handshake')
      assert.deepEqual(closed, { code: 4400, reason: 'unexpected welcome frame after the handshake' })
    })

    it('a welcome of an unsupported version keeps its close code 4426', async () => {
      const { error, closed } = await refused((conn) => conn.send(encodeWelcome({ ...WELCOME_DEFAULTS }).replace('"version":2', '"version":9')), false)
      assert.equal(error.closeCode, 4426)
      assert.equal(closed.code, 4426)
    })

    it('a welcome over the handshake frame limit goes out as 4400, not 1009, which a browser may not send', async () => {
      const huge = encodeWelcome({ ...WELCOME_DEFAULTS, sessionId: 's'.repeat(5000) })
      const { error, closed } = await refused((conn) => conn.send(huge), false)
      assert.equal(error.closeCode, 4400)
      assert.equal((error.cause as { closeCode?: number }).closeCode, 1009)
      assert.equal(closed.code, 4400)
    })

    for (const [what, frame, bytes] of [
      ['a text frame', 'x'.repeat(101), 101],
      ['a text frame short in characters but long in bytes', 'é'.repeat(51), 102],
      ['a binary frame', new Uint8Array(101), 101]
    ] as const) {
      it(`${what} over the welcome's maxPayload, naming its size`, async () => {
        const { error, closed } = await refused((conn) => conn.send(frame))
        assert.equal(error.message, `The server broke the protocol: a frame of ${bytes} bytes exceeds maxPayload (100)`)
        assert.deepEqual(closed, { code: 4400, reason: `a frame of ${bytes} bytes exceeds maxPayload (100)` })
      })
    }
  })

  it('takes frames of exactly maxPayload bytes, text and binary, and tells them apart', async () => {
    const c = client()
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake({ maxPayload: 100 })
    await opened
    const received: Array<[unknown, boolean]> = []
    c.on('message', (data, isBinary) => { received.push([data, isBinary]) })
    // 'é' is 2 bytes: 40 characters that the length test alone would take for 40 bytes.
    const textOverhead = Buffer.byteLength(encodeData(1, '') as string)
    const text = 'é'.repeat(40) + 'x'.repeat(100 - textOverhead - 80)
    assert.equal(Buffer.byteLength(encodeData(1, text) as string), 100)
    const binaryOverhead = (encodeData(2, new Uint8Array(0)) as Uint8Array).byteLength
    const bytes = new Uint8Array(100 - binaryOverhead).fill(7)
    assert.equal((encodeData(2, bytes) as Uint8Array).byteLength, 100)
    const ascii = 'a'.repeat(100 - Buffer.byteLength(encodeData(3, '') as string))
    assert.equal((encodeData(3, ascii) as string).length, 100)
    const all = new Promise<void>((resolve) => c.on('message', () => { if (received.length === 3) resolve() }))
    conn.send(encodeData(1, text))
    conn.send(encodeData(2, bytes))
    conn.send(encodeData(3, ascii))
    await all
    assert.deepEqual(received[0], [text, false])
    assert.deepEqual(received[1], [bytes, true])
    assert.deepEqual(received[2], [ascii, false])
    assert.equal(c.state, 'open')
  })

  it('answers a ping with a pong of the same token and ignores a pong', async () => {
    const c = client()
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake()
    await opened
    conn.send('frws:pong:unasked')
    conn.send('frws:ping:tok-1')
    assert.equal(await conn.nextRaw(), 'frws:pong:tok-1')
    assert.equal(c.state, 'open')
  })

  it('flushes its pending ack before the close frame of close()', async () => {
    const c = client({}, peer.url)
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake({ ackInterval: 60_000, ackEvery: 64 })
    await opened
    const delivered = nextEvent(c, 'message')
    conn.send(encodeData(1, 'one'))
    await delivered
    await c.close()
    assert.deepEqual(await conn.next(), { type: 'A', seq: 1 })
    assert.deepEqual(await conn.closed, { code: 1000, reason: '' })
  })

  it('closes with 1000 by default, cuts a long reason to 123 bytes, and emits close then end', async () => {
    const c = client()
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake()
    await opened
    const events: string[] = []
    c.on('close', (info) => { events.push(`close ${info.code} ${info.reason.length} ${String(info.willReconnect)}`) })
    c.on('end', (info) => { events.push(`end ${info.code} ${info.reason.length} ${String(info.error)}`) })
    const first = c.close(undefined, 'r'.repeat(200))
    assert.deepEqual(events, ['close 1000 123 false', 'end 1000 123 undefined'])
    assert.equal(c.close(4000), first, 'a second close returns the same promise')
    await first
    assert.deepEqual(events, ['close 1000 123 false', 'end 1000 123 undefined'], 'the socket closing later changes nothing')
    assert.equal(c.state, 'closed')
    assert.deepEqual(await conn.closed, { code: 1000, reason: 'r'.repeat(123) })
    const after = await settle(c.send('late'))
    assert.equal((after.error as ReliableClientError).code, ClientErrorCode.CLOSED)
    assert.equal((after.error as ReliableClientError).message, 'The client was closed')
  })

  it('closed while waiting to reconnect: emits end but no close, and leaves no timer behind', async () => {
    const timers = trackedTimers()
    const c = client({ ...timers.options, baseDelay: 60_000, maxDelay: 60_000 })
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake()
    await opened
    const reconnecting = nextEvent(c, 'reconnecting')
    conn.terminate()
    const [wait] = await reconnecting
    assert.ok(wait.delay > 0)
    assert.equal(c.state, 'reconnecting')
    let closes = 0
    c.on('close', () => { closes++ })
    const ended = nextEvent(c, 'end')
    await c.close(4000, 'bye')
    const [end] = await ended
    assert.deepEqual({ code: end.code, reason: end.reason, error: end.error }, { code: 4000, reason: 'bye', error: undefined })
    assert.equal(closes, 0)
    assert.equal(timers.pending.size, 0, 'the reconnect timer was cleared')
  })

  it('leaves no timer behind for a send with timeout Infinity or one acknowledged in time, and for a settled request', async () => {
    const timers = trackedTimers()
    const c = client(timers.options)
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake({ ackInterval: 60_000, ackEvery: 1 })
    await opened
    const before = timers.pending.size
    const forever = c.send('a', { timeout: Infinity })
    const bounded = c.send('b', { timeout: 60_000 })
    assert.equal(timers.pending.size, before + 1, 'only the bounded send started a timer')
    await conn.nextNonAck()
    await conn.nextNonAck()
    conn.send('A2')
    await forever
    await bounded
    assert.equal(timers.pending.size, before)
    const asked = c.request('q', { timeout: 60_000 })
    const request = await conn.nextNonAck()
    assert.equal(timers.pending.size, before + 1)
    conn.send(encodeResponse(1, request.seq, 'answer'))
    assert.equal(await asked, 'answer')
    assert.equal(timers.pending.size, before, 'the request timer was cleared')
  })

  it('names the timeout in the errors of a send and a request that time out', async () => {
    const c = client()
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake()
    await opened
    const sent = await settle(c.send('unacked', { timeout: 30 }))
    assert.equal((sent.error as ReliableClientError).code, ClientErrorCode.ACK_TIMEOUT)
    assert.equal((sent.error as ReliableClientError).message,
      'No acknowledgement within 30 ms; the message stays queued and may still be delivered')
    const asked = await settle(c.request('unanswered', { timeout: 40 }))
    assert.equal((asked.error as ReliableClientError).code, ClientErrorCode.REQUEST_TIMEOUT)
    assert.equal((asked.error as ReliableClientError).message, 'No response within 40 ms')
  })

  it('uses the client option requestTimeout when request() has none', async () => {
    const c = client({ requestTimeout: 40 })
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake()
    await opened
    const asked = await settle(c.request('unanswered'))
    assert.equal((asked.error as ReliableClientError).message, 'No response within 40 ms')
  })

  it('rejects a request after the end with the error the client ended with', async () => {
    const c = client()
    await c.close()
    const asked = await settle(c.request('late'))
    assert.equal((asked.error as ReliableClientError).code, ClientErrorCode.CLOSED)
  })
  it('names the code close() refuses', () => {
    const c = client()
    assert.throws(() => c.close(1001), { code: ClientErrorCode.INVALID_ARGUMENT, message: 'close code must be 1000 or 3000-4999, received 1001' })
  })

  it('idle after a 4000 before any welcome: a send connects again, still as connecting', async () => {
    const c = client()
    const first = await peer.nextConnection()
    await first.next()
    const closing = nextEvent(c, 'close')
    first.socket.close(4000, 'idle timeout')
    const [closed] = await closing
    assert.equal(closed.willReconnect, false)
    assert.equal(c.state, 'idle')
    const sent = c.send('wake up')
    assert.equal(c.state, 'connecting', 'never opened, so not reconnecting')
    const second = await peer.nextConnection()
    await second.handshake()
    assert.equal((await second.nextNonAck()).payload, 'wake up')
    second.send('A1')
    await sent
  })

  it('opens no socket for an async url that resolves after close(), and reports no failure of one that rejects after it', async () => {
    const counting = countingWebSocket()
    let resolveUrl: (url: string) => void = () => {}
    const late = new ReliableClient(() => new Promise<string>((resolve) => { resolveUrl = resolve }), { WebSocket: counting.WebSocket })
    await turn()
    await late.close()
    resolveUrl(peer.url)
    await turn()
    assert.equal(counting.count(), 0)

    let rejectUrl: (error: Error) => void = () => {}
    const failing = new ReliableClient(() => new Promise<string>((_resolve, reject) => { rejectUrl = reject }), { WebSocket: counting.WebSocket })
    const errors: unknown[] = []
    failing.on('error', (error) => errors.push(error))
    await turn()
    await failing.close()
    rejectUrl(new Error('too late'))
    await turn()
    assert.deepEqual(errors, [])
    assert.equal(failing.state, 'closed')
    assert.equal(counting.count(), 0)
  })

  it('starts no timer for a request with timeout Infinity, nor with requestTimeout Infinity', async () => {
    const timers = trackedTimers()
    const c = client({ ...timers.options, requestTimeout: Infinity })
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake({ ackEvery: 1 })
    await opened
    const before = timers.pending.size
    const first = c.request('q1', { timeout: Infinity })
    const second = c.request('q2')
    assert.equal(timers.pending.size, before)
    const q1 = await conn.nextNonAck()
    const q2 = await conn.nextNonAck()
    conn.send(encodeResponse(1, q1.seq, 'a1'))
    conn.send(encodeResponse(2, q2.seq, 'a2'))
    assert.deepEqual([await first, await second], ['a1', 'a2'])
  })

  it('sends no resumed event after continuityLost when a listener closed the client', async () => {
    const c = client()
    const first = await peer.nextConnection()
    await first.handshake()
    await nextEvent(c, 'open')
    const closing = nextEvent(c, 'close')
    first.terminate()
    await closing
    let resumed = 0
    c.on('resumed', () => { resumed++ })
    c.on('continuityLost', () => { void c.close() })
    const ended = nextEvent(c, 'end')
    const second = await peer.nextConnection()
    await second.handshake({ sessionId: 'session-2', epoch: 'epoch-2', resumed: false })
    await ended
    assert.equal(resumed, 0)
  })

  it('starts no ack timer for a message whose listener closed the client', async () => {
    const timers = trackedTimers()
    const c = client(timers.options)
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake({ ackInterval: 60_000 })
    await opened
    c.on('message', () => { void c.close() })
    const ended = nextEvent(c, 'end')
    conn.send(encodeData(1, 'last'))
    await ended
    assert.equal(timers.pending.size, 0)
    assert.deepEqual(await conn.next(), { type: 'A', seq: 1 }, 'close() acknowledged it')
  })
  it('stays closed when an error listener closes the client during a protocol error', async () => {
    const c = client()
    const conn = await peer.nextConnection()
    await conn.next()
    const closes: number[] = []
    c.on('close', (info) => closes.push(info.code))
    c.on('error', () => { void c.close(4000, 'enough') })
    const ended = nextEvent(c, 'end')
    conn.send(encodeData(1, 'before the welcome'))
    await ended
    assert.equal(c.state, 'closed')
    assert.deepEqual(closes, [4000])
    assert.equal((await conn.closed).code, 4000)
  })

  it('answers a request with an error naming why its answer could not be sent', async () => {
    const c = client({ onRequest: () => 'x'.repeat(300) })
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake({ maxPayload: 200 })
    await opened
    conn.send(encodeRequest(1, 'give me a lot'))
    const answer = await conn.nextNonAck()
    assert.equal(answer.type, 'E')
    assert.equal(answer.ref, 1)
    assert.match(String(answer.payload), /^The frame of 3\d\d bytes exceeds the server's maxPayload of 200 bytes$/)
  })

  it('drops the answer of an onRequest that settles after close()', async () => {
    let answer: (value: string) => void = () => {}
    let called: () => void = () => {}
    const asked = new Promise<void>((resolve) => { called = resolve })
    const c = client({ onRequest: () => new Promise<string>((resolve) => { answer = resolve; called() }) })
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake()
    await opened
    conn.send(encodeRequest(1, 'slow question'))
    await asked
    const closed = conn.closed
    await c.close()
    await closed
    answer('too late')
    await turn()
    assert.equal(c.bufferedCount, 0)
  })
  it('removes a listener with off() and with the function on() returns, and calls a once() listener once', async () => {
    const c = client()
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake()
    await opened
    const seen: string[] = []
    const viaOff = (data: unknown): void => { seen.push(`off:${String(data)}`) }
    c.on('message', viaOff)
    const remove = c.on('message', (data) => { seen.push(`on:${String(data)}`) })
    c.once('message', (data) => { seen.push(`once:${String(data)}`) })
    c.on('message', (data) => { seen.push(`kept:${String(data)}`) })
    const next = (): Promise<unknown> => nextEvent(c, 'message')
    let arrived = next()
    conn.send(encodeData(1, 'a'))
    await arrived
    c.off('message', viaOff)
    remove()
    arrived = next()
    conn.send(encodeData(2, 'b'))
    await arrived
    assert.deepEqual(seen, ['off:a', 'on:a', 'once:a', 'kept:a', 'kept:b'])
  })
  it('refuses a hello frame from the server as one only a client sends', async () => {
    const c = client()
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake()
    await opened
    const reported = nextEvent(c, 'error')
    conn.send(encodeHello({ version: 2 }))
    const [error] = await reported
    assert.equal((error as ReliableClientError).message, 'The server broke the protocol: hello frame is sent by the client only')
    assert.deepEqual(await conn.closed, { code: 4400, reason: 'hello frame is sent by the client only' })
  })

  it('reports a shouldRetry that throws as an error event', async () => {
    const c = client({ shouldRetry: () => { throw new Error('boom') } })
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake()
    await opened
    const reported = nextEvent(c, 'error')
    conn.socket.close(1011, 'crash')
    const [error] = await reported
    assert.equal((error as ReliableClientError).code, ClientErrorCode.GAVE_UP)
    assert.equal((error as ReliableClientError).message, 'shouldRetry threw: Error: boom')
  })

  it('names the method in the error for a payload of the wrong type', async () => {
    const c = client()
    const sent = await settle(c.send(42 as unknown as string))
    assert.equal((sent.error as ReliableClientError).message, 'send() takes a string, a Uint8Array or an ArrayBuffer')
    const asked = await settle(c.request(42 as unknown as string))
    assert.equal((asked.error as ReliableClientError).message, 'request() takes a string, a Uint8Array or an ArrayBuffer')
  })

  it('rejects a request over the server\'s maxPayload with FRWS_ERR_CLIENT_MESSAGE_TOO_BIG, without sending it', async () => {
    const c = client()
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake({ maxPayload: 100 })
    await opened
    const asked = await settle(c.request('x'.repeat(200), { timeout: 60_000 }))
    assert.equal((asked.error as ReliableClientError).code, ClientErrorCode.MESSAGE_TOO_BIG)
    assert.equal(c.bufferedCount, 0)
    void c.send('marker')
    assert.equal((await conn.nextNonAck()).payload, 'marker', 'the request never went out')
  })

  it('is closed already for close listeners during close()', async () => {
    const c = client()
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake()
    await opened
    const states: string[] = []
    c.on('close', () => states.push(c.state))
    await c.close()
    assert.deepEqual(states, ['closed'])
  })

  it('rejects a typed request whose response fails its schema, and reports it as an invalid response', async () => {
    const c = new ReliableClient(peer.url, { WebSocket, messages: zodChat })
    clients.push(c as unknown as ReliableClient)
    const conn = await peer.nextConnection()
    const opened = nextEvent(c as unknown as ReliableClient, 'open')
    await conn.handshake()
    await opened
    const invalid: Array<{ kind: string }> = []
    c.on('invalid', (info) => { invalid.push(info) })
    const pending = settle(c.request({ sum: [1, 2] }))
    const request = await conn.nextNonAck()
    assert.equal(request.type, 'Q')
    conn.send(encodeResponse(1, request.seq, JSON.stringify({ total: 'three' })))
    const asked = await pending
    assert.equal((asked.error as ReliableClientError).code, ClientErrorCode.INVALID_MESSAGE)
    assert.match((asked.error as ReliableClientError).message, /^Invalid incoming message /)
    assert.equal(invalid.length, 1)
    assert.equal(invalid[0]?.kind, 'response')
  })

  it('rejects a send whose schema throws as an invalid message naming what it threw', async () => {
    const boom = new Error('schema crashed')
    const throwing = { '~standard': { version: 1 as const, vendor: 'test', validate: (): never => { throw boom } } }
    const c = startClient(peer.url, { messages: { ...zodChat, fromClient: throwing } } as never)
    clients.push(c)
    const sent = await settle(c.send('anything'))
    assert.equal((sent.error as ReliableClientError).code, ClientErrorCode.INVALID_MESSAGE)
    assert.equal((sent.error as ReliableClientError).message, 'Invalid outgoing message at (schema): schema crashed')
  })
  it('drops the response to a typed request that timed out while queued offline, without reporting it', async () => {
    const c = new ReliableClient(peer.url, { WebSocket, messages: zodChat })
    clients.push(c as unknown as ReliableClient)
    const invalid: unknown[] = []
    c.on('invalid', (info) => { invalid.push(info) })
    const conn = await peer.nextConnection()
    await conn.next()
    const asked = await settle(c.request({ sum: [1] }, { timeout: 1 }))
    assert.equal((asked.error as ReliableClientError).code, ClientErrorCode.REQUEST_TIMEOUT)
    const opened = nextEvent(c as unknown as ReliableClient, 'open')
    conn.welcome()
    await opened
    const request = await conn.nextNonAck()
    assert.equal(request.type, 'Q', 'a request that timed out still goes out: it was queued')
    conn.send(encodeResponse(1, request.seq, JSON.stringify({ total: 'not a number' })))
    // A data frame after the response proves the response was handled.
    const marker = nextEvent(c as unknown as ReliableClient, 'message')
    conn.send(encodeData(2, JSON.stringify({ type: 'said', text: 'after', at: 1 })))
    await marker
    assert.deepEqual(invalid, [])
  })
  it('stays idle when a send is refused while idle', async () => {
    const c = client()
    const first = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await first.handshake({ maxPayload: 100 })
    await opened
    const closing = nextEvent(c, 'close')
    first.socket.close(4000, 'idle timeout')
    await closing
    assert.equal(c.state, 'idle')
    const refused = await settle(c.send('x'.repeat(200)))
    assert.equal((refused.error as ReliableClientError).code, ClientErrorCode.MESSAGE_TOO_BIG)
    assert.equal(c.state, 'idle')
  })

  it('opens no socket when closed right after construction', async () => {
    const counting = countingWebSocket()
    const c = new ReliableClient(peer.url, { WebSocket: counting.WebSocket })
    await c.close()
    await turn()
    assert.equal(counting.count(), 0)
    assert.equal(c.state, 'closed')
  })

  it('reports nothing from a socket it closed before it opened', async () => {
    const c = client()
    const events: string[] = []
    c.on('error', (error) => events.push(`error ${error.message}`))
    c.on('close', (info) => events.push(`close ${info.code}`))
    c.on('reconnecting', () => events.push('reconnecting'))
    // The socket is created in a microtask of the constructor: it is connecting now.
    await Promise.resolve()
    await c.close()
    await turn()
    assert.deepEqual(events, ['close 1000'], 'only the close of close() itself: no error, close or reconnect from the aborted socket')
    assert.equal(c.state, 'closed')
  })
  it('ignores what a socket it left still delivers', async () => {
    const c = client()
    let opens = 0
    c.on('open', () => { opens++ })
    const first = await peer.nextConnection()
    await first.next()
    // The first frame breaks the protocol, so the client leaves this socket; the welcome right
    // behind it still arrives on the closing socket and must change nothing.
    first.send(encodeData(1, 'before the welcome'))
    first.welcome()
    const second = await peer.nextConnection()
    assert.equal(opens, 0, 'no open from the socket it left')
    await second.handshake()
    await nextEvent(c, 'open')
    assert.equal(opens, 1)
  })
  it('drops the answer to a request of a session that was lost meanwhile', async () => {
    let answer: (value: string) => void = () => {}
    let called: () => void = () => {}
    const asked = new Promise<void>((resolve) => { called = resolve })
    const c = client({ onRequest: () => new Promise<string>((resolve) => { answer = resolve; called() }) })
    const first = await peer.nextConnection()
    await first.handshake()
    await nextEvent(c, 'open')
    first.send(encodeRequest(1, 'slow question'))
    await asked
    const closing = nextEvent(c, 'close')
    first.terminate()
    await closing
    const second = await peer.nextConnection()
    const resumed = nextEvent(c, 'resumed')
    await second.handshake({ sessionId: 'session-2', epoch: 'epoch-2', resumed: false })
    await resumed
    answer('for the old session')
    await turn()
    void c.send('marker')
    assert.deepEqual(await second.nextNonAck(), { type: 'D', seq: 1, ref: 0, payload: 'marker' }, 'the answer did not go out before it')
  })

  it('reports an error answer that does not fit either as an error event', async () => {
    const c = client({ maxUnacked: 1, onRequest: () => 'fine' })
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake({ ackInterval: 60_000 })
    await opened
    void c.send('fills the buffer, never acknowledged')
    await conn.nextNonAck()
    const reported = nextEvent(c, 'error')
    conn.send(encodeRequest(1, 'question'))
    const [error] = await reported
    assert.equal((error as ReliableClientError).code, ClientErrorCode.BUFFER_FULL)
  })

  it('neither reconnects nor leaves a timer when a close listener closes the client', async () => {
    const timers = trackedTimers()
    const counting = countingWebSocket()
    const c = client({ ...timers.options, WebSocket: counting.WebSocket as never })
    const conn = await peer.nextConnection()
    const opened = nextEvent(c, 'open')
    await conn.handshake({ ackEvery: 1 })
    await opened
    let reconnecting = 0
    c.on('reconnecting', () => { reconnecting++ })
    c.on('close', () => { void c.close() })
    const ended = nextEvent(c, 'end')
    conn.socket.close(1001, 'going away')
    await ended
    await turn()
    assert.equal(reconnecting, 0)
    assert.equal(timers.pending.size, 0)
    assert.equal(c.state, 'closed')
    assert.equal(counting.count(), 1)
  })
  it('with a document: survives visibilitychange offline and without a heartbeat, and removes its listener at the end', async () => {
    // A stand-in for the browser's document (Node has none): it records the listeners.
    const listeners = new Set<() => void>()
    const stand = {
      visibilityState: 'visible',
      addEventListener: (_type: string, listener: () => void) => { listeners.add(listener) },
      removeEventListener: (type: string, listener: () => void) => { if (type === 'visibilitychange') listeners.delete(listener) }
    }
    const global = globalThis as { document?: unknown }
    global.document = stand
    try {
      const c = client()
      assert.equal(listeners.size, 1)
      for (const listener of listeners) listener() // offline: no connection yet
      const conn = await peer.nextConnection()
      const opened = nextEvent(c, 'open')
      await conn.handshake({ pingInterval: 0, pongTimeout: 0 })
      await opened
      for (const listener of listeners) listener() // online, no heartbeat
      await c.close()
      assert.equal(listeners.size, 0)
    } finally {
      delete global.document
    }
  })
})
