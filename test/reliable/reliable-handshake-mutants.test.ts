// The reliable handshake (lib/reliable/reliable-handshake.ts) where the store or the client does
// something untimely: an unreachable store, a client that leaves while its principal or its claim
// is still being worked out. Real sockets, raw protocol frames, the in-memory store wrapped by
// the testing kit's faultyStore.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyRequest } from 'fastify'
import { FRWS_ERR_STORE_UNAVAILABLE } from '../../lib/errors.js'
import { MemorySessionStore } from '../../lib/index.js'
import type { ClaimResult, ClaimSessionInput } from '../../lib/store/session-store.js'
import { faultyStore } from '../../lib/testing/index.js'
import { helloFrame, resumeOf } from '../helpers/protocol-peer.js'
import { LogLevel, waitFor, waitForAsync } from '../helpers/server.js'
import { PROTOCOL_VERSION, SUPPORTED_VERSIONS } from '../../lib/protocol/version.js'
import { startReliableServer } from './reliable-server.js'

/** The in-memory store whose claims wait while the gate is closed, and which records releases. */
class GatedStore extends MemorySessionStore {
  waiting = 0
  claimed = 0
  readonly released: string[] = []
  #gate: Promise<void> = Promise.resolve()

  /** Hold every later claim until the returned function is called. */
  holdClaims (): () => void {
    let open = (): void => {}
    this.#gate = new Promise<void>((resolve) => { open = resolve })
    return open
  }

  override async claim (input: ClaimSessionInput): Promise<ClaimResult> {
    this.waiting++
    await this.#gate
    this.waiting--
    const result = await super.claim(input)
    this.claimed++
    return result
  }

  override async release (sessionId: string, ownerId: string, sessionTimeout: number): Promise<boolean> {
    this.released.push(sessionId)
    return await super.release(sessionId, ownerId, sessionTimeout)
  }
}

describe('reliable handshake against an untimely store or client', () => {
  test('an unreachable store refuses the session with 1013 and a warning; the next hello gets a session', async (t) => {
    const store = faultyStore(new MemorySessionStore())
    const server = await startReliableServer({ reliable: true }, { sessionStore: store })
    t.after(() => server.stop())
    store.failNext('create', new FRWS_ERR_STORE_UNAVAILABLE('create', 'redis client is reconnecting'))

    const refused = await server.peer()
    refused.sendRaw(helloFrame())
    const closed = await refused.closed(5000)
    assert.equal(closed.code, 1013)
    assert.equal(closed.reason, 'session store unavailable')
    assert.equal(refused.received.length, 0, 'no welcome')
    const warning = server.logs.find((line) => line.msg === 'reliable session refused: session store unavailable')
    assert.equal(warning?.level, LogLevel.warn)
    assert.equal((warning?.err as { code?: string }).code, 'FRWS_ERR_STORE_UNAVAILABLE')
    assert.ok(!server.logs.some((line) => line.msg === 'reliable handshake failed'), 'not logged as a failure of the server')

    const welcome = await (await server.peer()).handshake()
    assert.equal(welcome.resumed, false)
    assert.equal(store.calls.create, 2)
  })

  test('a client that leaves while its principal is being worked out does not touch the session it named', async (t) => {
    // The first principal answers at once; the second waits for the test.
    let answerLate: ((id: string) => void) | undefined
    let asked = 0
    const server = await startReliableServer({
      reliable: {
        principal: (_request: FastifyRequest) => ++asked === 2 ? new Promise<string>((resolve) => { answerLate = resolve }) : 'alice'
      }
    })
    t.after(() => server.stop())
    const first = await server.peer()
    const welcome = await first.handshake()
    first.terminate()
    await waitFor(() => server.events.includes('suspend'), 'the session to be suspended')

    const leaving = await server.peer()
    leaving.sendRaw(helloFrame({ resume: resumeOf(welcome) }))
    await waitFor(() => answerLate !== undefined, 'the principal of the resume to be asked')
    leaving.terminate()
    await leaving.closed(5000)
    await waitForAsync(async () => await server.openSockets() === 0, 'the server to see the socket close', 5000)
    answerLate?.('alice')

    // The token the client holds still resumes: the attempt that left claimed nothing.
    const back = await server.peer()
    const resumed = await back.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)
    assert.equal(resumed.sessionId, welcome.sessionId)
    assert.deepEqual(server.events, ['suspend', 'resume'])
  })

  test('a client that leaves while its claim is in the store does not get the session attached to its dead socket', async (t) => {
    const store = new GatedStore()
    const server = await startReliableServer({ reliable: true }, { sessionStore: store })
    t.after(() => server.stop())
    const first = await server.peer()
    const welcome = await first.handshake()
    first.terminate()
    await waitFor(() => server.events.includes('suspend'), 'the session to be suspended')

    store.released.length = 0 // the release of the suspension above
    const open = store.holdClaims()
    const leaving = await server.peer()
    leaving.sendRaw(helloFrame({ resume: resumeOf(welcome) }))
    await waitFor(() => store.waiting === 1, 'the claim to reach the store')
    leaving.terminate()
    await leaving.closed(5000)
    await waitForAsync(async () => await server.openSockets() === 0, 'the server to see the socket close', 5000)
    open()
    await waitFor(() => store.released.length === 1, 'the claim to be given back', 5000)

    assert.deepEqual(store.released, [welcome.sessionId], 'the claimed session is released for its expiry')
    assert.deepEqual(server.events, ['suspend'], 'the session is not resumed on a socket that is gone')
    assert.equal(server.connections.length, 1)

    // [R-RS-4]: the failed attempt left the session as it was, token included: the client resumes
    // with the token it holds (the claim had rotated it to one no welcome ever carried).
    const back = await server.peer()
    const resumed = await back.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)
    assert.equal(resumed.sessionId, welcome.sessionId)
  })

  test('a client that leaves while its resume of an unknown session is in the store: nothing fails, nothing is created', async (t) => {
    const store = new GatedStore()
    const server = await startReliableServer({ reliable: true }, { sessionStore: store })
    t.after(() => server.stop())
    const open = store.holdClaims()
    const leaving = await server.peer()
    leaving.sendRaw(helloFrame({ resume: { sessionId: 'unknown-session-id-000', epoch: 'e0', delivered: 0, token: 'T'.repeat(43) } }))
    await waitFor(() => store.waiting === 1, 'the claim to reach the store')
    leaving.terminate()
    await leaving.closed(5000)
    await waitForAsync(async () => await server.openSockets() === 0, 'the server to see the socket close', 5000)
    open()
    await waitFor(() => store.claimed === 1, 'the claim to return', 5000)
    // The rest of the handshake runs in microtasks after the claim: a macrotask later it is over.
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(server.logs.filter((line) => line.level >= LogLevel.error), [])
    assert.equal(server.connections.length, 0)
  })
})

describe('refused hellos', () => {
  test('a hello whose version does not match the selected subprotocol: 4426 with the exact reason, and an info line', async (t) => {
    const server = await startReliableServer({ reliable: true })
    t.after(() => server.stop())
    // A subprotocol of a version the server does not speak, offered alone: ws selects it as offered.
    const unspoken = `frws.v${PROTOCOL_VERSION + 1}`
    const peer = await server.peer({ protocols: [unspoken] })
    assert.equal(peer.socket.protocol, unspoken)
    peer.sendRaw(helloFrame())
    const closed = await peer.closed(5000)
    assert.equal(closed.code, 4426)
    const reason = `hello version ${PROTOCOL_VERSION} does not match the subprotocol ${unspoken} (supported: ${SUPPORTED_VERSIONS.join(', ')})`
    assert.equal(closed.reason, reason)
    const line = server.logs.find((entry) => entry.msg === 'reliable handshake refused')
    assert.equal(line?.level, LogLevel.info)
    assert.equal((line?.err as { message?: string }).message, reason)
  })

  test('a welcome frame sent by a client as its first frame is refused as a frame only the server sends', async (t) => {
    const server = await startReliableServer({ reliable: true })
    t.after(() => server.stop())
    const first = await server.peer()
    first.sendRaw(helloFrame())
    const welcome = (await first.next(5000)).raw
    const mimic = await server.peer()
    mimic.sendRaw(welcome)
    assert.deepEqual(await mimic.closed(5000), { code: 4400, reason: 'welcome frame is sent by the server only' })
  })

  test('a binary first frame and a first frame that is not a hello are refused with 4400 and their own reasons', async (t) => {
    const server = await startReliableServer({ reliable: true })
    t.after(() => server.stop())
    const binary = await server.peer()
    binary.sendRaw(Buffer.from(helloFrame()), true)
    assert.deepEqual(await binary.closed(5000), { code: 4400, reason: 'the first frame must be a text hello frame' })
    const data = await server.peer()
    data.sendData(1, 'no hello')
    assert.deepEqual(await data.closed(5000), { code: 4400, reason: 'the first frame must be a hello frame' })
  })
})

describe('a socket error before the hello', () => {
  test('invalid UTF-8 as the first frame closes with 1007 and is logged at debug as a handshake error', async (t) => {
    const server = await startReliableServer({ reliable: true })
    t.after(() => server.stop())
    const peer = await server.peer()
    peer.socket.send(Buffer.from([0x48, 0xff, 0xfe]), { binary: false })
    assert.equal((await peer.closed(5000)).code, 1007)
    await waitFor(() => server.logs.some((line) => line.msg === 'websocket error during the reliable handshake'), 'the log line', 5000)
    const line = server.logs.find((entry) => entry.msg === 'websocket error during the reliable handshake')
    assert.equal(line?.level, LogLevel.debug)
    assert.equal((line?.err as { code?: string }).code, 'WS_ERR_INVALID_UTF8')
    assert.deepEqual(server.logs.filter((entry) => entry.level >= LogLevel.error), [], 'a bad client is not an error of the server')
    assert.equal(server.connections.length, 0)
    // The server carries on.
    assert.equal((await (await server.peer()).handshake()).resumed, false)
  })
})

describe('a socket error on a live session', () => {
  test('is the connection\'s to handle: the handshake\'s listener is gone', async (t) => {
    const server = await startReliableServer({ reliable: true })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    peer.socket.send(Buffer.from([0x48, 0xff, 0xfe]), { binary: false })
    assert.equal((await peer.closed(5000)).code, 1007)
    await waitFor(() => server.events.length > 0, 'the session to lose its socket', 5000)
    assert.ok(server.logs.some((line) => line.msg === 'websocket peer broke a protocol rule or limit'), 'the connection logged it')
    assert.ok(!server.logs.some((line) => line.msg === 'websocket error during the reliable handshake'), 'the handshake did not')
  })
})

describe('a socket error after the handshake refused the socket', () => {
  test('is still caught and logged at debug: the process and the other sessions carry on', async (t) => {
    const server = await startReliableServer({ reliable: true })
    t.after(() => server.stop())
    const owner = await server.peer()
    const welcome = await owner.handshake()
    const intruder = await server.peer()
    // The intruder does not read: it neither sees the refusal nor answers it, and can still send.
    intruder.socket.pause()
    intruder.sendRaw(helloFrame({ resume: { ...resumeOf(welcome), token: 'G'.repeat(43) } }))
    await waitFor(() => server.logs.some((line) => line.msg === 'resume refused: wrong or superseded resume token'), 'the refusal', 5000)
    intruder.socket.send(Buffer.from([0x48, 0xff, 0xfe]), { binary: false })
    await waitFor(() => server.logs.some((line) => line.msg === 'websocket error during the reliable handshake'), 'the error to be logged', 5000)
    intruder.socket.resume()
    owner.sendData(1, 'still here')
    assert.equal((await owner.nextOfType('D', 5000)).raw, 'D1:still here')
  })
})

describe('frames pipelined after the hello', () => {
  for (const resuming of [false, true]) {
    test(`${resuming ? 'a resume' : 'a fresh session'}: a pipelined binary frame arrives as bytes, and frames sent after the welcome are read too`, async (t) => {
      const received: Array<{ data: string, isBinary: boolean, bytes: boolean }> = []
      // The handler listens at once and stays pending: reading must not wait for it to settle.
      let settle = (): void => {}
      const pending = new Promise<void>((resolve) => { settle = resolve })
      const server = await startReliableServer({ reliable: true }, {}, async (connection) => {
        connection.on('message', (data, isBinary) => received.push({ data: String(data), isBinary, bytes: Buffer.isBuffer(data) }))
        await pending
      })
      t.after(async () => { settle(); await server.stop() })
      let resume
      if (resuming) {
        const first = await server.peer()
        const welcome = await first.handshake()
        first.terminate()
        await waitFor(() => server.events.includes('suspend'), 'the session to be suspended')
        resume = resumeOf(welcome)
      }
      const peer = await server.peer()
      // One write: the hello and the frames after it arrive together, before the welcome.
      peer.sendRaw(helloFrame({ resume }))
      peer.sendData(1, Buffer.from('bytes'))
      peer.sendData(2, 'text')
      const welcome = (await peer.next(5000)).frame
      assert.ok(!(welcome instanceof Error) && welcome.type === 'W' && welcome.resumed === resuming)
      await waitFor(() => received.length === 2, 'the pipelined frames', 5000)
      // The socket paused for the pipelined frames reads again.
      peer.sendData(3, 'after the welcome')
      await waitFor(() => received.length === 3, 'the frame sent after the welcome', 5000)
      assert.deepEqual(received, [
        { data: 'bytes', isBinary: true, bytes: true },
        { data: 'text', isBinary: false, bytes: false },
        { data: 'after the welcome', isBinary: false, bytes: false }
      ])
    })
  }

  test('a fresh session whose handler has not listened yet still reads the socket after the pipelined frames', async (t) => {
    let settle = (): void => {}
    const pending = new Promise<void>((resolve) => { settle = resolve })
    // No listener while the handler runs: data waits in the queue, but pings are still answered.
    const server = await startReliableServer({ reliable: true }, {}, async () => { await pending })
    t.after(async () => { settle(); await server.stop() })
    const peer = await server.peer()
    peer.sendRaw(helloFrame())
    peer.sendData(1, 'queued for the handler')
    const welcome = (await peer.next(5000)).frame
    assert.ok(!(welcome instanceof Error) && welcome.type === 'W')
    peer.sendPing('after-welcome')
    assert.equal((await peer.nextOfType('pong', 5000)).raw, 'frws:pong:after-welcome')
  })
})
