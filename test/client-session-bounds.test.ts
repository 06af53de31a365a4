// The client's session bookkeeping at its edges: exact frame sizes against maxPayload, the buffer
// bounds at their limits, the offline queue and what a lost session does to it. Written from the
// mutants of lib/client/client-session.ts that survived the rest of the suite (docs/TESTING.md).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ClientSession, type OutgoingMessage, type PendingRequest } from '../lib/client/client-session.js'
import { ClientErrorCode, ReliableClientError } from '../lib/client/client-errors.js'
import { decodeFrame, type Payload } from '../lib/protocol/frames.js'
import type { Welcome } from '../lib/protocol/handshake.js'
import { ProtocolError } from '../lib/protocol/protocol-error.js'
import { WELCOME_DEFAULTS } from './helpers/client-peer.js'

const NO_LIMIT = Number.POSITIVE_INFINITY

/** A `send()`-like message whose callback records how it settled. */
function data (payload: Payload, settled: Array<Error | null> = []): OutgoingMessage {
  return { type: 'D', ref: 0, payload, callback: (error) => { settled.push(error) } }
}

/** A pending request that records how it settled. */
function pendingRequest (): PendingRequest & { outcome: Array<{ error: Error | null, payload?: Payload }> } {
  const outcome: Array<{ error: Error | null, payload?: Payload }> = []
  const request = {
    seq: 0,
    settled: false,
    outcome,
    settle (error: Error | null, payload?: Payload) { request.settled = true; outcome.push({ error, payload }) }
  }
  return request
}

function welcome (fields: Partial<Welcome> = {}): Welcome {
  return { ...WELCOME_DEFAULTS, ...fields }
}

/** A session after a first welcome, with the frames it transmits collected. */
function openSession (maxCount = 100, maxBytes = 1_000_000): { session: ClientSession, wire: Payload[] } {
  const session = new ClientSession(maxCount, maxBytes)
  session.applyWelcome(welcome(), undefined)
  return { session, wire: [] }
}

function errorCode (error: unknown): string | undefined {
  return error instanceof ReliableClientError ? error.code : undefined
}

describe('client session: frame sizes against maxPayload', () => {
  it('takes a data frame of exactly maxPayload bytes and refuses one byte more, naming both sizes', () => {
    const { session, wire } = openSession()
    // 'D1:' is 3 bytes: a payload of 7 makes a frame of 10.
    assert.equal(session.submit(data('x'.repeat(7)), 10, (f) => wire.push(f)), undefined)
    assert.deepEqual([...wire], ['D1:xxxxxxx'])
    const refused = session.submit(data('x'.repeat(8)), 10, (f) => wire.push(f))
    assert.equal(errorCode(refused), ClientErrorCode.MESSAGE_TOO_BIG)
    // The next seq is 2, so 'D2:' + 8 bytes = 11.
    assert.equal(refused?.message, "The frame of 11 bytes exceeds the server's maxPayload of 10 bytes")
  })

  it('counts the ref of a response in its size: R<seq>,<ref>: with multi-digit numbers', () => {
    const { session, wire } = openSession()
    // 'R1,123:' is 7 bytes.
    const answer: OutgoingMessage = { type: 'R', ref: 123, payload: 'abc' }
    assert.equal(session.submit(answer, 10, (f) => wire.push(f)), undefined)
    assert.deepEqual([...wire], ['R1,123:abc'])
    const tooLong: OutgoingMessage = { type: 'R', ref: 123, payload: 'abcd' }
    assert.equal(session.submit(tooLong, 10, (f) => wire.push(f))?.message, "The frame of 11 bytes exceeds the server's maxPayload of 10 bytes")
  })

  it('counts UTF-8 bytes of text and the byte length of binary payloads', () => {
    const { session, wire } = openSession()
    // 'é' is 2 bytes: 'D1:' + 4 = 7.
    assert.equal(session.submit(data('éé'), 7, (f) => wire.push(f)), undefined)
    assert.equal(session.submit(data('éé'), 6, (f) => wire.push(f))?.message, "The frame of 7 bytes exceeds the server's maxPayload of 6 bytes")
    assert.equal(session.submit(data(new Uint8Array(4)), 7, (f) => wire.push(f)), undefined)
    assert.equal(session.submit(data(new Uint8Array(5)), 7, (f) => wire.push(f))?.message, "The frame of 8 bytes exceeds the server's maxPayload of 7 bytes")
  })

  it('refuses a queued message over the maxPayload learnt at the welcome, and sends the others in order', () => {
    const session = new ClientSession(100, 1_000_000)
    const small: Array<Error | null> = []
    const big: Array<Error | null> = []
    assert.equal(session.submit(data('a', small), NO_LIMIT, undefined), undefined)
    assert.equal(session.submit(data('b'.repeat(20), big), NO_LIMIT, undefined), undefined)
    assert.equal(session.submit(data('c'), NO_LIMIT, undefined), undefined)
    assert.equal(session.bufferedCount, 3)
    session.applyWelcome(welcome(), undefined)
    const wire: Payload[] = []
    session.flush(10, (f) => wire.push(f))
    assert.deepEqual(wire, ['D1:a', 'D2:c'])
    assert.equal(big.length, 1)
    assert.equal(errorCode(big[0]), ClientErrorCode.MESSAGE_TOO_BIG)
    // 'D2:' + 20 bytes: the size is counted with the seq the message would have taken.
    assert.equal(big[0]?.message, "The frame of 23 bytes exceeds the server's maxPayload of 10 bytes")
    assert.deepEqual(small, [])
    assert.equal(session.bufferedCount, 2)
  })

  it('sends a queued message of exactly the maxPayload learnt at the welcome', () => {
    const session = new ClientSession(100, 1_000_000)
    session.submit(data('x'.repeat(7)), NO_LIMIT, undefined)
    session.applyWelcome(welcome(), undefined)
    const wire: Payload[] = []
    session.flush(10, (f) => wire.push(f))
    assert.deepEqual(wire, ['D1:xxxxxxx'])
  })

  it('refuses a queued request over maxPayload through its own settle, as it has no send callback', () => {
    const session = new ClientSession(100, 1_000_000)
    const request = pendingRequest()
    session.submit({ type: 'Q', ref: 0, payload: 'q'.repeat(20), request }, NO_LIMIT, undefined)
    session.applyWelcome(welcome(), undefined)
    session.flush(10, () => assert.fail('nothing fits'))
    assert.equal(request.outcome.length, 1)
    assert.equal(errorCode(request.outcome[0]?.error), ClientErrorCode.MESSAGE_TOO_BIG)
  })

  it('copies a queued binary payload: the caller may reuse its buffer before the flush', () => {
    const session = new ClientSession(100, 1_000_000)
    const bytes = new Uint8Array([1, 2, 3])
    session.submit(data(bytes), NO_LIMIT, undefined)
    bytes.fill(9)
    session.applyWelcome(welcome(), undefined)
    const wire: Payload[] = []
    session.flush(NO_LIMIT, (f) => wire.push(f))
    const frame = decodeFrame(wire[0] as Payload, { sender: 'client' })
    assert.deepEqual(frame.type === 'D' && [...(frame.payload as Uint8Array)], [1, 2, 3])
  })
})

describe('client session: buffer bounds', () => {
  it('holds exactly maxCount messages, logged and queued together, and names the bounds when full', () => {
    const { session, wire } = openSession(3, 1_000_000)
    assert.equal(session.submit(data('a'), NO_LIMIT, (f) => wire.push(f)), undefined)
    assert.equal(session.submit(data('b'), NO_LIMIT, (f) => wire.push(f)), undefined)
    assert.equal(session.submit(data('c'), NO_LIMIT, undefined), undefined)
    const full = session.submit(data('d'), NO_LIMIT, undefined)
    assert.equal(errorCode(full), ClientErrorCode.BUFFER_FULL)
    // Two logged frames of 4 bytes and one queued of 4.
    assert.equal(full?.message, 'The client buffer is full (3 messages, 12 bytes unacknowledged; maxUnacked 3, maxUnackedBytes 1000000)')
    session.ack(1)
    assert.equal(session.submit(data('d'), NO_LIMIT, undefined), undefined)
  })

  it('holds frames up to exactly maxBytes, logged and queued together', () => {
    // Frames 'D1:aaaaaaa' and 'D2:bbbbbbb' are 10 bytes each; the queued one is counted as 10 too.
    const { session, wire } = openSession(100, 30)
    assert.equal(session.submit(data('a'.repeat(7)), NO_LIMIT, (f) => wire.push(f)), undefined)
    assert.equal(session.submit(data('b'.repeat(7)), NO_LIMIT, undefined), undefined)
    assert.equal(session.submit(data('c'.repeat(7)), NO_LIMIT, undefined), undefined)
    const full = session.submit(data('d'), NO_LIMIT, undefined)
    assert.equal(full?.message, 'The client buffer is full (3 messages, 30 bytes unacknowledged; maxUnacked 100, maxUnackedBytes 30)')
  })

  it('holds more than the protocol default of 1 MiB in its log when maxBytes allows, also after continuity is lost', () => {
    const { session, wire } = openSession(100, 4 * 1024 * 1024)
    const big = 'x'.repeat(700 * 1024)
    const settled: Array<Error | null> = []
    assert.equal(session.submit(data(big, settled), NO_LIMIT, (f) => wire.push(f)), undefined)
    assert.equal(session.submit(data(big, settled), NO_LIMIT, (f) => wire.push(f)), undefined)
    assert.equal(wire.length, 2)
    assert.equal(session.bufferedCount, 2)
    session.applyWelcome(welcome({ sessionId: 'session-2' }), undefined)
    assert.equal(settled.length, 2, 'both lost with the old session')
    assert.equal(session.submit(data(big), NO_LIMIT, (f) => wire.push(f)), undefined)
    assert.equal(session.submit(data(big), NO_LIMIT, (f) => wire.push(f)), undefined)
    assert.equal(wire.length, 4)
    assert.equal(session.bufferedCount, 2)
  })

  it('always takes a first message, even one larger than maxBytes', () => {
    const { session, wire } = openSession(100, 5)
    assert.equal(session.submit(data('x'.repeat(50)), NO_LIMIT, (f) => wire.push(f)), undefined)
    assert.equal(wire.length, 1)
    assert.equal(errorCode(session.submit(data('y'), NO_LIMIT, (f) => wire.push(f))), ClientErrorCode.BUFFER_FULL)
  })

  it('always queues a first message while offline, even one larger than maxBytes', () => {
    const session = new ClientSession(100, 5)
    assert.equal(session.submit(data('x'.repeat(50)), NO_LIMIT, undefined), undefined)
    assert.equal(errorCode(session.submit(data('y'), NO_LIMIT, undefined)), ClientErrorCode.BUFFER_FULL)
  })
})

describe('client session: responses and requests', () => {
  it('accepts a response to the last request sent and refuses one to a later seq, naming both', () => {
    const { session, wire } = openSession()
    session.submit(data('a'), NO_LIMIT, (f) => wire.push(f))
    session.submit(data('b'), NO_LIMIT, (f) => wire.push(f))
    session.checkRef(2)
    assert.throws(() => session.checkRef(3), (error: unknown) =>
      error instanceof ProtocolError && error.closeCode === 4400 &&
      error.message === 'response to request 3 that was never sent (last seq sent is 2)')
  })

  it('settles a request with its response, an error response with FRWS_ERR_CLIENT_REQUEST_FAILED, and ignores a second answer', () => {
    const { session, wire } = openSession()
    const ok = pendingRequest()
    const failing = pendingRequest()
    session.submit({ type: 'Q', ref: 0, payload: 'q1', request: ok }, NO_LIMIT, (f) => wire.push(f))
    session.submit({ type: 'Q', ref: 0, payload: 'q2', request: failing }, NO_LIMIT, (f) => wire.push(f))
    assert.equal(ok.seq, 1)
    assert.equal(failing.seq, 2)
    session.settleResponse(1, 'answer', false)
    session.settleResponse(2, 'no such thing', true)
    session.settleResponse(1, 'again', false)
    assert.deepEqual(ok.outcome, [{ error: null, payload: 'answer' }])
    assert.equal(failing.outcome.length, 1)
    assert.equal(errorCode(failing.outcome[0]?.error), ClientErrorCode.REQUEST_FAILED)
    assert.equal(failing.outcome[0]?.error?.message, 'no such thing')
  })

  it('forgets a request whose timeout passed: its late response settles nothing', () => {
    const { session, wire } = openSession()
    const request = pendingRequest()
    session.submit({ type: 'Q', ref: 0, payload: 'q', request }, NO_LIMIT, (f) => wire.push(f))
    session.forgetRequest(request)
    session.settleResponse(1, 'late', false)
    assert.deepEqual(request.outcome, [])
  })

  it('does not register a request that timed out while queued, and sends its frame anyway', () => {
    const session = new ClientSession(100, 1_000_000)
    const request = pendingRequest()
    session.submit({ type: 'Q', ref: 0, payload: 'q', request }, NO_LIMIT, undefined)
    request.settle(new Error('timed out'))
    session.forgetRequest(request)
    session.applyWelcome(welcome(), undefined)
    const wire: Payload[] = []
    session.flush(NO_LIMIT, (f) => wire.push(f))
    assert.deepEqual(wire, ['Q1:q'])
    assert.equal(request.seq, 0, 'a settled request keeps no seq')
    session.settleResponse(1, 'late', false)
    assert.equal(request.outcome.length, 1, 'only the timeout settled it')
  })
})

describe('client session: welcomes', () => {
  it('refuses a resumed welcome without a resume, or for another session or epoch, with exact reasons', () => {
    const { session } = openSession()
    const resume = session.resumePosition()
    assert.deepEqual(resume, { sessionId: 'session-1', epoch: 'epoch-1', delivered: 0, token: WELCOME_DEFAULTS.resumeToken })
    const reason = (fn: () => unknown): string => {
      try { fn() } catch (error) { return error instanceof ProtocolError ? `${error.closeCode} ${error.message}` : 'other' }
      return 'no error'
    }
    assert.equal(reason(() => session.applyWelcome(welcome({ resumed: true }), undefined)),
      '4400 welcome.resumed is true but the hello resumed no session')
    assert.equal(reason(() => session.applyWelcome(welcome({ resumed: true, sessionId: 'other' }), resume)),
      '4400 welcome.resumed is true but its sessionId or epoch differs from the hello')
    assert.equal(reason(() => session.applyWelcome(welcome({ resumed: true, epoch: 'other' }), resume)),
      '4400 welcome.resumed is true but its sessionId or epoch differs from the hello')
    assert.equal(reason(() => session.applyWelcome(welcome({ delivered: 3 }), resume)),
      '4400 welcome.delivered must be 0 for a new session, got 3')
  })

  it('after forgetResume asks for a new session, and the next welcome counts the unacknowledged messages as lost', () => {
    const { session, wire } = openSession()
    const lost: Array<Error | null> = []
    session.submit(data('a', lost), NO_LIMIT, (f) => wire.push(f))
    session.submit(data('b', lost), NO_LIMIT, (f) => wire.push(f))
    session.forgetResume()
    assert.equal(session.resumePosition(), undefined)
    const outcome = session.applyWelcome(welcome({ sessionId: 'session-2', resumeToken: 'token-2' }), undefined)
    assert.deepEqual(outcome, { kind: 'continuity-lost', replay: [], lost: 2, previousSessionId: 'session-1' })
    assert.equal(lost.length, 2)
    assert.ok(lost.every((e) => errorCode(e) === ClientErrorCode.CONTINUITY_LOST))
    assert.equal(lost[0]?.message, 'Session session-1 could not be resumed; this message was sent without an acknowledgement and may be lost')
    assert.equal(session.generation, 1)
    assert.deepEqual(session.resumePosition(), { sessionId: 'session-2', epoch: 'epoch-1', delivered: 0, token: 'token-2' })
  })

  it('drops queued answers to the lost session and keeps the other queued messages, with their bytes', () => {
    const session = new ClientSession(100, 26)
    session.applyWelcome(welcome(), undefined)
    // Offline: an answer, an error answer and two messages are queued.
    assert.equal(session.submit({ type: 'R', ref: 1, payload: 'r' }, NO_LIMIT, undefined), undefined)
    assert.equal(session.submit({ type: 'E', ref: 2, payload: 'e' }, NO_LIMIT, undefined), undefined)
    assert.equal(session.submit(data('a'), NO_LIMIT, undefined), undefined)
    assert.equal(session.submit(data('b'), NO_LIMIT, undefined), undefined)
    assert.equal(session.bufferedCount, 4)
    session.applyWelcome(welcome({ sessionId: 'session-2' }), undefined)
    assert.equal(session.bufferedCount, 2)
    // The two queued messages count 'D3:a' and 'D4:b' (8 bytes) against maxBytes 26: 18 more fit, not 19.
    assert.equal(session.submit(data('x'.repeat(15)), NO_LIMIT, undefined), undefined)
    assert.equal(errorCode(session.submit(data('y'), NO_LIMIT, undefined)), ClientErrorCode.BUFFER_FULL)
    const wire: Payload[] = []
    session.flush(NO_LIMIT, (f) => wire.push(f))
    assert.deepEqual(wire, ['D1:a', 'D2:b', `D3:${'x'.repeat(15)}`])
  })

  it('empties the offline queue when it fails everything', () => {
    const session = new ClientSession(100, 1_000_000)
    const settled: Array<Error | null> = []
    session.submit(data('a', settled), NO_LIMIT, undefined)
    session.submit(data('b', settled), NO_LIMIT, undefined)
    const error = new Error('closed')
    session.failAll(error)
    assert.deepEqual(settled, [error, error])
    assert.equal(session.bufferedCount, 0)
    session.applyWelcome(welcome(), undefined)
    session.flush(NO_LIMIT, () => assert.fail('the failed queue sends nothing'))
  })

  it('fails every pending send and request, logged or queued, with the error given', () => {
    const { session, wire } = openSession()
    const settled: Array<Error | null> = []
    const request = pendingRequest()
    session.submit(data('a', settled), NO_LIMIT, (f) => wire.push(f))
    session.submit({ type: 'Q', ref: 0, payload: 'q', request }, NO_LIMIT, (f) => wire.push(f))
    session.submit(data('b', settled), NO_LIMIT, undefined)
    const error = new ReliableClientError(ClientErrorCode.CLOSED, 'closed')
    session.failAll(error)
    assert.deepEqual(settled, [error, error])
    assert.deepEqual(request.outcome, [{ error, payload: undefined }])
  })
})
