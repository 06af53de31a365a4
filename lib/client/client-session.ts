/**
 * The client's side of a reliable session: both directions' positions, the messages not yet
 * acknowledged, the messages queued while offline, and the requests waiting for an answer
 * (docs/PROTOCOL.md, "Handshake and resume", "Sequencing", "Overflow").
 */
import { CloseCode } from '../protocol/close-codes.js'
import { encodeDataFrame, utf8Length, type DataFrameType, type Payload } from '../protocol/frames.js'
import type { ResumePosition, Welcome } from '../protocol/handshake.js'
import { InboundTracker } from '../protocol/inbound-tracker.js'
import { OutboundLog, type SendCallback } from '../protocol/outbound-log.js'
import { ProtocolError } from '../protocol/protocol-error.js'
import { ClientErrorCode, ReliableClientError } from './client-errors.js'

/** A `request()` waiting for its response. */
export interface PendingRequest {
  /** The seq of its `Q` frame; 0 while it waits in the offline queue. */
  seq: number
  /** True once resolved or rejected (a timeout settles it while its frame may still travel). */
  settled: boolean
  /** Resolve with the response (`error` null) or reject with `error`. */
  settle (error: Error | null, payload?: Payload): void
}

/** A message on its way out: data, a request, or an answer to a server request. */
export interface OutgoingMessage {
  type: DataFrameType
  /** For `R` and `E`: the server seq of the request answered; 0 otherwise. */
  ref: number
  /** Always a string for `E`. */
  payload: Payload
  /** For `send()`: settles its promise when the server acknowledges the message. */
  callback?: SendCallback
  /** For `request()`. */
  request?: PendingRequest
}

interface QueuedMessage extends OutgoingMessage {
  /** The frame size counted against `maxUnackedBytes`. */
  size: number
  /** The payload's size in bytes (counted once: a long text costs a pass over it). */
  payloadBytes: number
}

/** What a welcome meant for the session; see {@link ClientSession.applyWelcome}. */
export interface WelcomeOutcome {
  /** `new`: a first session; `resumed`: continuity held; `continuity-lost`: the old session is gone. */
  kind: 'new' | 'resumed' | 'continuity-lost'
  /** The frames to send again, in order, before anything new. */
  replay: Payload[]
  /** For `continuity-lost`: the messages transmitted in the old session without an ack (possibly lost). */
  lost: number
  /** For `continuity-lost`: the session id that could not be resumed. */
  previousSessionId: string | undefined
}

/** Transmits one frame on the current socket. */
export type Transmit = (frame: Payload) => void

function bad (message: string): ProtocolError {
  return new ProtocolError(CloseCode.BAD_MESSAGE, message)
}

function decimalDigits (value: number): number {
  let digits = 1
  for (let power = 10; value >= power; power *= 10) digits++
  return digits
}

// The size of the header encodeDataFrame writes before the payload: `D<seq>:` or `R<seq>,<ref>:`.
function headerSize (seq: number, ref: number): number {
  return 2 + decimalDigits(seq) + (ref > 0 ? 1 + decimalDigits(ref) : 0)
}

function tooBig (size: number, maxPayload: number): ReliableClientError {
  return new ReliableClientError(ClientErrorCode.MESSAGE_TOO_BIG,
    `The frame of ${size} bytes exceeds the server's maxPayload of ${maxPayload} bytes`)
}

/**
 * Seqs are assigned when a message is first transmitted: messages sent while offline wait in a
 * queue without a seq. So every message in the outbound log has been transmitted, and when the
 * server cannot resume the session, the log holds exactly the messages that may be lost while the
 * queue can move to the new session, numbered from 1. On the wire this is what the protocol
 * describes: after a resume the replay comes first, then the queued messages in order.
 */
export class ClientSession {
  private readonly maxCount: number
  private readonly maxBytes: number
  private id: string | undefined
  private epoch: string | undefined
  // The resume token of the last welcome; only the latest one works.
  private token: string | undefined
  private log: OutboundLog
  private tracker = new InboundTracker()
  private queue: QueuedMessage[] = []
  private queueBytes = 0
  private readonly requests = new Map<number, PendingRequest>()
  private generationValue = 0

  /**
   * @param maxCount - most messages held, logged and queued together
   * @param maxBytes - most bytes of frames held, logged and queued together
   */
  constructor (maxCount: number, maxBytes: number) {
    this.maxCount = maxCount
    this.maxBytes = maxBytes
    this.log = new OutboundLog({ maxCount, maxBytes })
  }

  /** The session id from the last welcome, `undefined` before the first. */
  get sessionId (): string | undefined {
    return this.id
  }

  /** Incremented when continuity breaks: answers to the old session's requests must not be sent. */
  get generation (): number {
    return this.generationValue
  }

  /** The receiver side of the server-to-client direction. */
  get inbound (): InboundTracker {
    return this.tracker
  }

  /** Messages sent but not acknowledged, plus messages queued while offline. */
  get bufferedCount (): number {
    return this.log.count + this.queue.length
  }

  /** The position to put in the hello, `undefined` when there is no session to resume. */
  resumePosition (): ResumePosition | undefined {
    if (this.id === undefined || this.epoch === undefined || this.token === undefined) return undefined
    return { sessionId: this.id, epoch: this.epoch, delivered: this.tracker.delivered, token: this.token }
  }

  /**
   * The server refused to resume the session (4403: stale token, 4421: another route). The next
   * hello asks for a new session, and its welcome is applied as continuity lost.
   */
  forgetResume (): void {
    this.token = undefined
  }

  /**
   * Send `message` now through `transmit`, or queue it when `transmit` is undefined (offline).
   * @param maxPayload - the server's limit on a frame, in bytes (`Infinity` before the first welcome)
   * @returns the error to reject the caller with when the message was refused, else `undefined`
   */
  submit (message: OutgoingMessage, maxPayload: number, transmit: Transmit | undefined): ReliableClientError | undefined {
    const seq = this.log.nextSeq + this.queue.length
    const payload = message.payload
    const payloadBytes = typeof payload === 'string' ? utf8Length(payload) : payload.byteLength
    const size = headerSize(seq, message.ref) + payloadBytes
    if (size > maxPayload) return tooBig(size, maxPayload)
    const count = this.log.count + this.queue.length
    if (count > 0 && (count >= this.maxCount || this.log.bytes + this.queueBytes + size > this.maxBytes)) {
      return new ReliableClientError(ClientErrorCode.BUFFER_FULL,
        `The client buffer is full (${count} messages, ${this.log.bytes + this.queueBytes} bytes unacknowledged; ` +
        `maxUnacked ${this.maxCount}, maxUnackedBytes ${this.maxBytes})`)
    }
    if (transmit !== undefined) {
      this.transmitNow(message, payloadBytes, transmit)
    } else {
      // A queued message is encoded later; copy the bytes so the caller may reuse its buffer.
      const copy = typeof payload === 'string' ? payload : payload.slice()
      this.queue.push({ ...message, payload: copy, size, payloadBytes })
      this.queueBytes += size
    }
    return undefined
  }

  /**
   * Apply a welcome (after checking it against the hello) and return what to replay.
   * @param resume - the resume position the hello carried, `undefined` when it carried none
   *   (a first connection, or one after {@link forgetResume})
   * @throws {ProtocolError} 4400 when the welcome contradicts the hello or the client's log
   */
  applyWelcome (welcome: Welcome, resume: ResumePosition | undefined): WelcomeOutcome {
    if (welcome.resumed) {
      if (resume === undefined) throw bad('welcome.resumed is true but the hello resumed no session')
      if (welcome.sessionId !== resume.sessionId || welcome.epoch !== resume.epoch) {
        throw bad('welcome.resumed is true but its sessionId or epoch differs from the hello')
      }
      const replay = this.log.replayFrom(welcome.delivered)
      this.token = welcome.resumeToken
      this.tracker.startConnection()
      return { kind: 'resumed', replay, lost: 0, previousSessionId: undefined }
    }
    if (welcome.delivered !== 0) throw bad(`welcome.delivered must be 0 for a new session, got ${welcome.delivered}`)
    // A session held before this welcome is gone, whether the hello tried to resume it or the
    // server had refused its resume (forgetResume).
    const previousSessionId = this.id
    const lost = previousSessionId === undefined ? 0 : this.breakContinuity(previousSessionId)
    this.id = welcome.sessionId
    this.epoch = welcome.epoch
    this.token = welcome.resumeToken
    this.tracker.startConnection()
    return { kind: previousSessionId === undefined ? 'new' : 'continuity-lost', replay: [], lost, previousSessionId }
  }

  /**
   * Transmit the messages queued while offline, in order, now that the handshake is done.
   * A message over `maxPayload` (learnt only now) is refused with `FRWS_ERR_CLIENT_MESSAGE_TOO_BIG`.
   */
  flush (maxPayload: number, transmit: Transmit): void {
    const queue = this.queue
    this.queue = []
    this.queueBytes = 0
    for (const message of queue) {
      const size = headerSize(this.log.nextSeq, message.ref) + message.payloadBytes
      if (size > maxPayload) this.refuse(message, tooBig(size, maxPayload))
      else this.transmitNow(message, message.payloadBytes, transmit)
    }
  }

  /** Apply an ack from the server. @throws {ProtocolError} 4400 for an ack of a message never sent */
  ack (seq: number): void {
    this.log.ack(seq)
  }

  /** Check the `ref` of a response frame. @throws {ProtocolError} 4400 when it names a request never sent */
  checkRef (ref: number): void {
    if (ref > this.log.lastSeq) throw bad(`response to request ${ref} that was never sent (last seq sent is ${this.log.lastSeq})`)
  }

  /** Settle the request answered by a delivered response; a response nobody waits for is dropped. */
  settleResponse (ref: number, payload: Payload, isError: boolean): void {
    const request = this.requests.get(ref)
    if (request === undefined) return
    this.requests.delete(ref)
    if (isError) {
      request.settle(new ReliableClientError(ClientErrorCode.REQUEST_FAILED, payload as string))
    } else {
      request.settle(null, payload)
    }
  }

  /** Stop waiting for the response to `request` (its timeout passed). */
  forgetRequest (request: PendingRequest): void {
    if (request.seq > 0) this.requests.delete(request.seq)
  }

  /** Fail every pending `send()` and `request()` with `error`, e.g. when the client ends. */
  failAll (error: Error): void {
    const queue = this.queue
    this.queue = []
    this.queueBytes = 0
    this.log.fail(error)
    this.failRequests(error)
    for (const message of queue) this.refuse(message, error)
  }

  private transmitNow (message: OutgoingMessage, payloadBytes: number, transmit: Transmit): void {
    const next = this.log.nextSeq
    const frame = encodeDataFrame(message.type, next, message.ref, message.payload)
    const seq = this.log.push(frame, headerSize(next, message.ref) + payloadBytes, message.callback)
    // submit() checked the bounds for the log and the queue together, so this is only a safeguard.
    if (seq === 0) {
      this.refuse(message, new ReliableClientError(ClientErrorCode.BUFFER_FULL, 'The client buffer is full'))
      return
    }
    if (message.request !== undefined && !message.request.settled) {
      message.request.seq = seq
      this.requests.set(seq, message.request)
    }
    // Sending a text frame flattens the string it is given into a copy of header and payload; the
    // log keeps an unflattened one, or every message would hold its payload twice until acknowledged.
    transmit(typeof frame === 'string' ? encodeDataFrame(message.type, next, message.ref, message.payload) : frame)
  }

  private refuse (message: OutgoingMessage, error: Error): void {
    message.callback?.(error)
    message.request?.settle(error)
  }

  private failRequests (error: Error): void {
    const requests = [...this.requests.values()]
    this.requests.clear()
    for (const request of requests) request.settle(error)
  }

  // The old session is gone: what it transmitted without an ack may or may not have arrived.
  private breakContinuity (previousSessionId: string): number {
    const lost = this.log.count
    const error = new ReliableClientError(ClientErrorCode.CONTINUITY_LOST,
      `Session ${previousSessionId} could not be resumed; this message was sent without an acknowledgement and may be lost`)
    const log = this.log
    this.log = new OutboundLog({ maxCount: this.maxCount, maxBytes: this.maxBytes })
    this.tracker = new InboundTracker()
    this.generationValue++
    log.fail(error)
    this.failRequests(error)
    // Answers to the old session's requests have nobody to go to.
    this.queue = this.queue.filter((message) => message.type !== 'R' && message.type !== 'E')
    this.queueBytes = this.queue.reduce((sum, message) => sum + message.size, 0)
    return lost
  }
}
