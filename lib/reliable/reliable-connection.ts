import type { EventEmitter } from 'node:events'
import type { RawData, WebSocket } from 'ws'
import { WsConnection, reportedCloseCode } from '../connection.js'
import type { CloseCause, ConnectionInit, UntypedMessages, WsMessage, WsOutgoing } from '../connection.js'
import type { InvalidMessage, MessageTypes } from '../messages/types.js'
import { decodeIncoming, describeProblem, encodeOutgoing } from '../messages/validate.js'
import type { Checked } from '../messages/validate.js'
import { AckScheduler } from '../protocol/ack-scheduler.js'
import { encodePong } from '../protocol/app-ping.js'
import { CloseCode, CloseReason, truncateCloseReason } from '../protocol/close-codes.js'
import { dataFrameHeader, decodeFrame, encodeAck } from '../protocol/frames.js'
import type { DataFrame, Payload } from '../protocol/frames.js'
import type { StandardSchemaV1 } from '../messages/standard-schema.js'
import { InboundTracker } from '../protocol/inbound-tracker.js'
import { OutboundLog } from '../protocol/outbound-log.js'
import { ProtocolError } from '../protocol/protocol-error.js'
import { batchWrites } from '../write-batcher.js'
import { closeWithinBound } from '../bounded-close.js'
import {
  FRWS_ERR_MESSAGE_INVALID, FRWS_ERR_MESSAGE_TOO_BIG, FRWS_ERR_REQUEST_FAILED, FRWS_ERR_REQUEST_LIMIT, FRWS_ERR_SESSION_ENDED
} from '../errors.js'
import type { ResolvedReliable } from './reliable-options.js'
import type { SessionState, SessionStore } from '../store/session-store.js'
import { SessionWriter } from './session-writer.js'
import { encodeServerFrame, sendFrame } from './data-frame-writer.js'
import { sessionTag } from './session-tag.js'
import { OutgoingRequests } from './outgoing-requests.js'
import { IncomingRequests } from './incoming-requests.js'
import { noop, rejected, withTimeout } from './send-promises.js'
import { SessionShare, frameHeldBytes, sessionBytes, wireBytes } from './session-budget.js'
import type { SessionBudget } from './session-budget.js'
import {
  messageOut, publishConnectionClose, publishLimitHit, publishMessageOut, publishSessionEnd, publishSessionSuspend
} from '../metrics/publish.js'
import type { LimitName } from '../metrics/channels.js'

/** Options of a reliable `send()`. */
export interface ReliableSendOptions {
  /** Reject with FRWS_ERR_SEND_TIMEOUT if the client has not acknowledged within this many ms (the message stays queued). */
  timeout?: number
}

/** Options of `request()`. */
export interface RequestOptions {
  /** Reject with FRWS_ERR_REQUEST_TIMEOUT after this many ms. @default the route's `reliable.requestTimeout` */
  timeout?: number
}

/** What the reliable connection needs from the plugin beyond a plain connection's host. */
export interface ReliableHost {
  readonly store: SessionStore
  /** Largest frame either side may send, in bytes, header included (the welcome's `maxPayload`). */
  readonly maxPayload: number
  /** True once `fastify.close()` began. */
  readonly closing: boolean
  /** The session ended on this node (expired, closed, overflowed, moved): forget it. */
  sessionEnded (connection: ReliableConnection<object>): void
  /** The session lost its socket: expire it at `expiresAt` unless it is resumed (caps on suspended sessions apply). */
  sessionDetached (connection: ReliableConnection<object>, expiresAt: number): void
  /** The memory budget every session charges its real bytes to. */
  readonly budget: SessionBudget
  /**
   * Make room for `bytes` more under `sessionBudget.maxTotalBytes` by shedding suspended sessions,
   * oldest first. False when even with none left suspended they do not fit.
   */
  reclaim (bytes: number): boolean
}

/** Close codes after which the session cannot continue (docs/PROTOCOL.md, "Session lifetime"). */
const SESSION_ENDING_CODES = new Set<number>([
  CloseCode.NORMAL, CloseCode.BAD_MESSAGE, CloseCode.INVALID_PAYLOAD, CloseCode.MESSAGE_TOO_BIG,
  CloseCode.BUFFER_OVERFLOW, CloseCode.UNSUPPORTED_DATA, CloseCode.UNSUPPORTED_VERSION, CloseCode.SESSION_SHED
])

function toPayload (data: WsOutgoing): Payload {
  if (typeof data === 'string' || data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

/**
 * A connection on a reliable route: the same API as a plain connection, but it is a session. It
 * numbers, logs and replays what it sends, dedupes and acknowledges what it receives, and outlives
 * its socket: on a reconnect the client resumes it (`resume` event) and nothing is lost or
 * duplicated. The `close` event fires when the session ends, not when a socket drops (`suspend`).
 */
export class ReliableConnection<Data extends object = Record<string, unknown>, T extends MessageTypes = UntypedMessages>
  extends WsConnection<Data, T> {
  /** The session id the client presents to resume. Never log it: log {@link sessionTag}. */
  readonly sessionId: string
  /** What logs and error messages say instead of the session id (`lib/reliable/session-tag.ts`). */
  readonly sessionTag: string
  /** The session's epoch. */
  readonly epoch: string
  /** True when this node took over a session that began elsewhere (another node, or before a restart). */
  readonly resumedFromStore: boolean
  /** @internal What the caps on suspended sessions count per: the principal, or the remote address of anonymous sessions. */
  readonly budgetKey: string
  readonly #settings: ResolvedReliable
  readonly #reliableHost: ReliableHost
  readonly #outbound: OutboundLog
  readonly #inbound: InboundTracker
  readonly #acks: AckScheduler
  readonly #writer: SessionWriter
  readonly #outgoing = new OutgoingRequests()
  readonly #incoming = new IncomingRequests(this)
  #attached = true
  #suspendedBy = { code: CloseCode.ABNORMAL as number, reason: '' }
  readonly #share: SessionShare
  /** True when messages reach the socket only once the store recorded them (`SessionStore.outlivesProcess`). */
  readonly #holdUntilCommitted: boolean
  /** Highest seq written to the current socket (used while {@link #holdUntilCommitted}). */
  #socketSeq: number

  /** @internal */
  constructor (
    socket: WebSocket, init: ConnectionInit, state: SessionState, ownerId: string,
    settings: ResolvedReliable, host: ReliableHost, resumedFromStore: boolean
  ) {
    super(socket, init)
    this.sessionId = state.sessionId
    this.sessionTag = sessionTag(state.sessionId)
    this.epoch = state.epoch
    this.resumedFromStore = resumedFromStore
    this.budgetKey = state.principal === null ? `address:${init.remoteAddress}` : `principal:${state.principal}`
    this.#settings = settings
    this.#reliableHost = host
    this.#outbound = new OutboundLog({ maxCount: settings.maxUnacked, maxBytes: settings.maxUnackedBytes, acked: state.serverAcked })
    for (const message of state.messages) this.#outbound.push(message.frame, frameHeldBytes(message.frame))
    // A session taken over from the store is charged what it holds, even past the budget: refusing
    // it here would lose messages the client is owed; later sends meet the limits.
    this.#share = new SessionShare(host.budget)
    this.#share.sync(this.#outbound)
    this.#inbound = new InboundTracker(state.clientDelivered)
    this.#holdUntilCommitted = host.store.outlivesProcess === true
    this.#socketSeq = state.serverSeq
    this.#acks = new AckScheduler({
      // Acks only what the store has committed (docs/SCALE-OUT.md, "Durability rule").
      source: this,
      sendAck: (seq) => this.#sendControl(encodeAck(seq)),
      ackInterval: settings.ackInterval,
      ackEvery: settings.ackEvery
    })
    ;(this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'request' && this.#incoming.isQueuing) queueMicrotask(() => this.#flushRequests())
    })
    this.#writer = new SessionWriter(
      host.store, state.sessionId, ownerId,
      { clientDelivered: state.clientDelivered, serverSeq: state.serverSeq },
      this
    )
  }

  /** @internal True while a socket carries the session. */
  get isAttached (): boolean {
    return this.#attached
  }

  /** Until the session ends, including while it is suspended: what is sent then is replayed on resume. */
  override get acceptsMessages (): boolean {
    return !this.isEnded
  }

  /** @internal AckSource: delivered client messages the store has committed and the client was not yet told of. */
  get unacked (): number {
    return Math.max(0, this.#writer.committed.clientDelivered - this.#inbound.acked)
  }

  /** @internal AckSource: the committed position to acknowledge now (0 when none). */
  takeAck (): number {
    return this.#inbound.takeAckUpTo(this.#writer.committed.clientDelivered)
  }

  /** Messages sent and not yet acknowledged by the client. */
  get unackedCount (): number {
    return this.#outbound.count
  }

  /**
   * Real bytes this session holds on the server and charges to the plugin's `sessionBudget`: a
   * fixed record size plus each unacknowledged message's frame and per-message overhead. 0 once ended.
   */
  get heldBytes (): number {
    return this.#share.bytes
  }

  /** The highest client seq delivered to the application. */
  get delivered (): number {
    return this.#inbound.delivered
  }

  /**
   * Send a message. It is numbered and kept until the client acknowledges it; while the client is
   * away it waits and is replayed on resume. Resolves on the client's ack; rejects with
   * FRWS_ERR_SESSION_ENDED when the session ends first, or FRWS_ERR_SEND_TIMEOUT after
   * `options.timeout`. Ignoring the promise is safe.
   */
  override send (data: T['send'], options?: ReliableSendOptions): Promise<void> {
    const payload = this.#encode(this.messages?.fromServer, data)
    if (!payload.ok) return this.outgoingRejection(payload.problem)
    return this.#sendSequenced('D', 0, payload.value, options?.timeout)
  }

  /** @internal A payload already encoded by `broadcast()`: numbered and kept like any `send()`. */
  override sendEncoded (data: WsOutgoing): Promise<void> {
    return this.#sendSequenced('D', 0, toPayload(data), undefined)
  }

  /** Through the route's schema and codec when it has `messages`; as it is otherwise. */
  #encode (schema: StandardSchemaV1 | undefined, data: unknown): Checked<Payload> {
    if (this.messages === undefined) return { ok: true, value: toPayload(data as WsOutgoing) }
    return encodeOutgoing(this.messages.codec, schema, data)
  }

  /** Decode and validate a received payload; an invalid one is logged and reported (`invalid` event), never delivered. */
  #decode (kind: InvalidMessage['kind'], schema: StandardSchemaV1 | undefined, payload: WsMessage): Checked<unknown> {
    if (this.messages === undefined) return { ok: true, value: payload }
    const checked = decodeIncoming(this.messages.codec, schema, payload)
    if (checked.ok) return checked
    const problem = checked.problem
    const fields = { session: this.sessionTag, kind, path: problem.path }
    if (checked.async === true) this.log.error(fields, 'reliable websocket schema validated asynchronously; message refused')
    else this.log.info(fields, 'reliable websocket message failed its schema')
    try {
      (this as EventEmitter).emit('invalid', { kind, ...problem })
    } catch (error) {
      this.fail(error)
    }
    return checked
  }

  /**
   * Send a request; resolves with the client's response, rejects on its error response or the
   * timeout, and at once with FRWS_ERR_REQUEST_LIMIT when `reliable.maxRequestsInFlight` requests
   * of this session already wait for a response (nothing is sent then).
   */
  request (data: T['requestOut'], options: RequestOptions = {}): Promise<T['response']> {
    const payload = this.#encode(this.messages?.serverRequest, data)
    if (!payload.ok) return this.outgoingRejection(payload.problem)
    if (this.#outgoing.size >= this.#settings.maxRequestsInFlight) {
      this.log.warn({ connectionId: this.id, maxRequestsInFlight: this.#settings.maxRequestsInFlight }, 'reliable request refused: too many in flight')
      return rejected(new FRWS_ERR_REQUEST_LIMIT(this.#settings.maxRequestsInFlight))
    }
    const seq = this.#outbound.nextSeq
    // Waiting before sending: a send that ends the session rejects this request with the others.
    const promise = this.#outgoing.open(seq, options.timeout ?? this.#settings.requestTimeout) as Promise<T['response']>
    this.#sendSequenced('Q', 0, payload.value, undefined).catch((error: Error) => this.#outgoing.take(seq)?.reject(error))
    return promise
  }

  /** @internal Attach a new socket after a resume on this node; the old one (if still open) gets 4409. */
  resumeOn (socket: WebSocket, ownerId: string): void {
    const previous = this.socket
    // The previous socket's own close event is ignored from here on: report its end now.
    if (this.#attached) publishConnectionClose(this, true, CloseCode.SESSION_REPLACED, 'session resumed on another connection', 'replaced')
    this.unwatchSocket()
    this.takeLocalClose()
    this.#writer.setOwner(ownerId)
    this.bindSocket(socket)
    this.#attached = true
    if (previous !== socket && previous.readyState <= 1) {
      closeWithinBound(previous, CloseCode.SESSION_REPLACED, 'session resumed on another connection')
    }
  }

  /**
   * @internal Complete the handshake on the current socket: the welcome is already sent; replay
   * what the client lacks after `clientDelivered`, then let new frames flow.
   */
  startStreaming (clientDelivered: number): void {
    this.#inbound.startConnection()
    let frames = this.#outbound.replayFrom(clientDelivered)
    if (this.#holdUntilCommitted) {
      frames = frames.slice(0, Math.max(0, this.#writer.committed.serverSeq - clientDelivered))
      this.#socketSeq = clientDelivered + frames.length
    }
    this.#writer.acked(clientDelivered)
    this.#share.sync(this.#outbound)
    if (frames.length === 0) return
    const socket = this.socket
    batchWrites(socket)
    const before = socket.bufferedAmount
    for (const frame of frames) {
      sendFrame(socket, frame)
      if (messageOut.hasSubscribers) publishMessageOut(this, frame)
    }
    this.guard.checkBuffered(before)
  }

  /** @internal The server's position for the welcome and the checks of a resume. */
  get outboundState (): { acked: number, lastSeq: number } {
    return { acked: this.#outbound.acked, lastSeq: this.#outbound.lastSeq }
  }

  /**
   * @internal The session is over for this node. Its store record is released on shutdown (another
   * node may resume it), left alone when it moved, and deleted otherwise (if this node still owns
   * it). An expired session is deleted too: its release may have reached the store after the expiry
   * timer started, and a resume in that gap would replay sends that already failed.
   */
  endSession (code: number, reason: string, cause: CloseCause): void {
    if (this.isEnded) return
    const wasAttached = this.#attached
    this.#attached = false
    this.#acks.stop()
    if (cause === 'shutdown') {
      // Flush first: a message sent just before the shutdown must reach a shared store.
      void this.#releaseInStore(this.ownerId, this.#settings.sessionTimeout).finally(() => this.#writer.stop())
    } else {
      this.#writer.stop()
      if (cause !== 'replaced') {
        void this.#reliableHost.store.delete(this.sessionId, this.ownerId).catch(noop)
      }
    }
    const error = new FRWS_ERR_SESSION_ENDED(this.sessionTag, cause)
    this.#outbound.fail(error)
    this.#outgoing.failAll(error)
    this.#incoming.drop()
    this.#share.close()
    this.#reliableHost.sessionEnded(this as ReliableConnection<object>)
    if (wasAttached && this.socket.readyState <= 1) this.socket.close(code, truncateCloseReason(reason))
    publishSessionEnd(this, code, reason, cause)
    this.end(code, reason, cause)
  }

  /** @internal The client did not resume within `sessionTimeout` (or `sessionBudget.unackedSessionTimeout`). */
  expire (): void {
    const shorter = this.#neverAcknowledged && this.#reliableHost.budget.unackedSessionTimeout < this.#settings.sessionTimeout
    const limit = shorter ? 'unackedSessionTimeout' : 'sessionTimeout'
    this.log.info({ session: this.sessionTag, limit }, 'reliable session expired')
    this.endSession(this.#suspendedBy.code, this.#suspendedBy.reason, 'expired')
  }

  /**
   * @internal The memory budget ends this session to make room (docs/PROTOCOL.md, "Memory budget"):
   * 4507 to its socket if attached; its store record is deleted, so a resume gets `resumed: false`.
   * @param limit - the `sessionBudget` option that forced it, for the log
   */
  shed (limit: LimitName): void {
    if (this.isEnded) return
    publishLimitHit(this, CloseCode.SESSION_SHED, limit)
    this.log.warn({ session: this.sessionTag, limit, heldBytes: this.#share.bytes, attached: this.#attached }, 'reliable session shed: session budget exceeded')
    this.endSession(CloseCode.SESSION_SHED, CloseReason[CloseCode.SESSION_SHED], 'shed')
  }

  /** @internal Owner id of the socket that holds the session in the store. */
  get ownerId (): string {
    return this.#writer.ownerId
  }

  /** @internal */
  override closeWithCause (code: number, reason: string | undefined, cause: CloseCause): void {
    // A suspended session has no socket to close: the close ends the session directly.
    if (!this.#attached) {
      this.endSession(code, reason ?? '', cause)
      return
    }
    // What was delivered is acknowledged before the close ([R-AK-4]): the client must not count it
    // as maybe lost. Not held for the store: this node is alive and its writer retries until committed.
    if (this.socket.readyState === 1) {
      this.#acks.stop()
      const seq = this.#inbound.takeAck()
      if (seq > 0) this.#sendControl(encodeAck(seq))
    }
    super.closeWithCause(code, reason, cause)
  }

  /** @internal */
  override terminateWithCause (cause: CloseCause): void {
    if (!this.#attached) {
      this.endSession(CloseCode.ABNORMAL, '', cause)
      return
    }
    super.terminateWithCause(cause)
  }

  /** @internal */
  override receive (data: RawData, isBinary: boolean): void {
    // Once this side started closing (a violation, an overflow), later frames are not processed:
    // they would be delivered after the offence, and unacked ones are replayed on a resume anyway.
    if (this.socket.readyState !== 1) return
    let frame
    try {
      frame = decodeFrame(isBinary ? (data as Buffer) : data.toString(), { sender: 'client' })
      switch (frame.type) {
        case 'D':
        case 'Q':
        case 'R':
        case 'E':
          this.#receiveSequenced(frame, isBinary)
          return
        case 'A':
          this.touch()
          if (this.#outbound.ack(frame.seq) > 0) {
            this.#writer.acked(frame.seq)
            this.#share.sync(this.#outbound)
          }
          return
        case 'ping':
          this.touch()
          this.#sendControl(encodePong(frame.token))
          return
        case 'pong':
          this.touch()
          return
        default:
          throw new ProtocolError(CloseCode.BAD_MESSAGE, `unexpected ${frame.type === 'H' ? 'hello' : 'welcome'} frame after the handshake`)
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
      this.log.info({ err: error, session: this.sessionTag }, 'reliable websocket protocol violation')
      this.closeWithCause(error.closeCode, error.message, 'error')
    }
  }

  /** @internal */
  override socketClosed (code: number, reasonBytes: Buffer): void {
    this.unwatchSocket()
    const local = this.takeLocalClose()
    const reason = reasonBytes.toString()
    // A socket that was already closing when the server began to shut down ends with the shutdown.
    const cause = this.#reliableHost.closing ? 'shutdown' : local.cause ?? 'client'
    const sentCode = local.code
    // The same codes end the session whichever side closes with them ([R-LT-2]).
    const ends = cause === 'shutdown' || cause === 'replaced' || SESSION_ENDING_CODES.has(sentCode ?? code)
    if (ends) {
      const reported = reportedCloseCode(code, cause, sentCode)
      publishConnectionClose(this, true, reported, reason, cause)
      this.endSession(reported, reason, cause)
      return
    }
    this.#attached = false
    this.#acks.stop()
    // After a cut (4420, 4429) the socket is terminated: report the code the server sent, not 1006.
    code = reportedCloseCode(code, local.cause, sentCode)
    publishConnectionClose(this, true, code, reason, cause)
    this.#suspendedBy = { code, reason }
    const lifetime = this.#neverAcknowledged
      ? Math.min(this.#settings.sessionTimeout, this.#reliableHost.budget.unackedSessionTimeout)
      : this.#settings.sessionTimeout
    void this.#releaseInStore(this.ownerId, lifetime)
    this.#reliableHost.sessionDetached(this as ReliableConnection<object>, Date.now() + lifetime)
    if (this.isEnded) return
    this.log.debug({ session: this.sessionTag, code, cause }, 'reliable session suspended')
    publishSessionSuspend(this, code, cause)
    this.emit('suspend', { code, reason, cause })
  }

  /** True while the client never acknowledged a message nor sent one: it may not be a real client (`unackedSessionTimeout`). */
  get #neverAcknowledged (): boolean {
    return this.#outbound.acked === 0 && this.#inbound.delivered === 0
  }

  /** Release the session in the store under the owner that held it when the socket closed. */
  async #releaseInStore (ownerId: string, lifetime: number): Promise<void> {
    try {
      await this.#writer.flush()
      await this.#reliableHost.store.release(this.sessionId, ownerId, lifetime)
    } catch (error) {
      this.log.error({ err: error, session: this.sessionTag }, 'session store release failed')
    }
  }

  #receiveSequenced (frame: DataFrame, isBinary: boolean): void {
    // Checked before the frame counts as delivered: an offending frame is never acknowledged.
    if ((frame.type === 'R' || frame.type === 'E') && frame.ref > this.#outbound.lastSeq) {
      throw new ProtocolError(CloseCode.BAD_MESSAGE, `response to request ${frame.ref} that was never sent`)
    }
    if (frame.type === 'Q' && frame.seq > this.#inbound.delivered && this.#incoming.inFlight >= this.#settings.maxRequestsInFlight) {
      // Refused before it counts as delivered: the client replays it after resuming.
      this.log.warn({ connectionId: this.id, maxRequestsInFlight: this.#settings.maxRequestsInFlight }, 'reliable client exceeded its requests in flight')
      this.guard.cut(CloseCode.RATE_LIMITED, 'too many requests in flight', 'maxRequestsInFlight')
      return
    }
    if (this.#inbound.accept(frame.seq) === 'duplicate') {
      this.touch()
      return
    }
    this.touchMessage()
    this.#writer.delivered(frame.seq)
    const payload = frame.payload as WsMessage
    switch (frame.type) {
      case 'D': {
        // An invalid message is still acknowledged below: replaying it could never make it valid.
        const checked = this.#decode('message', this.messages?.fromClient, payload)
        if (checked.ok) this.deliverOrQueue(checked.value, isBinary)
        break
      }
      case 'Q':
        this.#receiveRequest(frame.seq, payload, isBinary)
        break
      default:
        this.#receiveResponse(frame)
    }
    this.#acks.delivered()
  }

  #receiveRequest (seq: number, payload: WsMessage, isBinary: boolean): void {
    const checked = this.#decode('request', this.messages?.clientRequest, payload)
    if (!checked.ok) {
      // Answered at once with the first failing path, so the client's request() rejects instead of waiting.
      void this.#sendSequenced('E', seq, `invalid request ${describeProblem(checked.problem)}`, undefined)
      return
    }
    if (this.#incoming.receive(seq, checked.value, isBinary)) this.socket.pause()
  }

  /** @internal Send the answer to client request `seq`: an Error as an error response, a value through the route's schema. */
  answerRequest (seq: number, response: unknown): void {
    if (response instanceof Error) {
      void this.#sendSequenced('E', seq, response.message || 'request failed', undefined)
      return
    }
    const encoded = this.#encode(this.messages?.clientResponse, response)
    if (encoded.ok) {
      void this.#sendSequenced('R', seq, encoded.value, undefined)
      return
    }
    // The application's bug, not the client's: logged with the coded error, the client gets a generic reason.
    const error = new FRWS_ERR_MESSAGE_INVALID('outgoing', describeProblem(encoded.problem))
    this.log.error({ err: error, session: this.sessionTag }, 'reliable websocket response failed its schema; error response sent')
    void this.#sendSequenced('E', seq, 'internal error', undefined)
  }

  /** @internal Requests wait like messages for the handler to listen; when it settled without listening they are refused. */
  override handlerSettled (): void {
    super.handlerSettled()
    if (this.listenerCount('request') === 0) this.#flushRequests()
  }

  #flushRequests (): void {
    if (this.#incoming.flush()) this.resumeReading()
  }

  /** @internal Requests waiting for a `request` listener hold the socket paused like messages do. */
  protected override readingHeldBack (): boolean {
    return super.readingHeldBack() || this.#incoming.holdsReading
  }

  #receiveResponse (frame: DataFrame): void {
    // The client answered only after delivering the request, in order: the answer acks it ([R-AK-5]).
    if (this.#outbound.ack(frame.ref) > 0) this.#writer.acked(frame.ref)
    const pending = this.#outgoing.take(frame.ref)
    if (pending === undefined) return
    if (frame.type === 'E') {
      pending.reject(new FRWS_ERR_REQUEST_FAILED(String(frame.payload)))
      return
    }
    const checked = this.#decode('response', this.messages?.serverResponse, frame.payload as WsMessage)
    if (checked.ok) pending.resolve(checked.value)
    else pending.reject(new FRWS_ERR_MESSAGE_INVALID('incoming', describeProblem(checked.problem)))
  }

  #sendSequenced (type: 'D' | 'Q' | 'R' | 'E', ref: number, payload: Payload, timeout: number | undefined): Promise<void> {
    if (this.isEnded) return rejected(new FRWS_ERR_SESSION_ENDED(this.sessionTag, 'closed'))
    const seq = this.#outbound.nextSeq
    const header = dataFrameHeader(type, seq, ref)
    const wireSize = header.length + wireBytes(payload)
    const maxPayload = this.#reliableHost.maxPayload
    if (wireSize > maxPayload) {
      const error = new FRWS_ERR_MESSAGE_TOO_BIG(wireSize, maxPayload)
      this.log.warn({ session: this.sessionTag, size: wireSize, maxPayload }, 'reliable frame over maxPayload not sent')
      // A request is still answered ([R-SZ-2]): with an error response saying why, instead of the oversized response.
      if (type !== 'R') return rejected(error)
      void this.#sendSequenced('E', ref, `response of ${wireSize} bytes exceeds maxPayload ${maxPayload}`, undefined)
      return rejected(error)
    }
    const frame = encodeServerFrame(header, payload, wireSize)
    const size = frameHeldBytes(frame, wireSize)
    const held = sessionBytes(this.#outbound.count + 1, this.#outbound.bytes + size)
    const fits = this.#outbound.fits(size)
    if (!fits || held > this.#reliableHost.budget.maxSessionBytes) {
      const error = new FRWS_ERR_SESSION_ENDED(this.sessionTag, 'overflow')
      const limit = fits ? 'maxSessionBytes' : 'maxUnacked'
      publishLimitHit(this, CloseCode.BUFFER_OVERFLOW, limit)
      this.log.warn({ session: this.sessionTag, limit, unacked: this.#outbound.count, bytes: this.#outbound.bytes, heldBytes: this.#share.bytes }, 'reliable session buffer overflow')
      this.closeWithCause(CloseCode.BUFFER_OVERFLOW, undefined, 'error')
      return rejected(error)
    }
    // Make room under the total budget; this session itself may be the oldest suspended one.
    if (!this.#reliableHost.reclaim(held - this.#share.bytes)) this.shed('maxTotalBytes')
    if (this.isEnded) return rejected(new FRWS_ERR_SESSION_ENDED(this.sessionTag, 'shed'))
    let settle!: (error: Error | null) => void
    const promise = new Promise<void>((resolve, reject) => {
      settle = (error) => { if (error === null) resolve(); else reject(error) }
    })
    promise.catch(noop)
    this.#outbound.push(frame, size, settle)
    this.#share.sync(this.#outbound)
    this.#writer.appended(seq, frame)
    const socket = this.socket
    if (this.#attached && socket.readyState === 1 && !this.#holdUntilCommitted) {
      batchWrites(socket)
      const before = socket.bufferedAmount
      sendFrame(socket, frame)
      if (messageOut.hasSubscribers) publishMessageOut(this, frame)
      // A client that acks without reading is cut (4420); the message stays in the log for the resume.
      this.guard.checkBuffered(before)
    }
    if (timeout === undefined) return promise
    return withTimeout(promise, timeout)
  }

  #sendControl (frame: string): void {
    const socket = this.socket
    if (!this.#attached || socket.readyState !== 1) return
    batchWrites(socket)
    const before = socket.bufferedAmount
    socket.send(frame)
    if (messageOut.hasSubscribers) publishMessageOut(this, frame)
    this.guard.checkBuffered(before)
  }

  /** @internal SessionWriterHost: the store says another connection owns the session now. */
  storeSuperseded (): void {
    this.#superseded()
  }

  /** @internal SessionWriterHost: a write failed and will be retried. */
  storeWriteFailed (error: unknown, retryDelay: number): void {
    this.log.error({ err: error, session: this.sessionTag, retryDelay }, 'session store update failed')
  }

  /** @internal SessionWriterHost: the store committed a write: acknowledge what it recorded, and send what it now holds. */
  storeCommitted (): void {
    if (!this.#attached || this.isEnded) return
    if (this.#writer.committed.clientDelivered > this.#inbound.acked) this.#acks.delivered()
    if (!this.#holdUntilCommitted) return
    const socket = this.socket
    const upTo = Math.min(this.#writer.committed.serverSeq, this.#outbound.lastSeq)
    if (socket.readyState !== 1 || upTo <= this.#socketSeq) return
    // Not replayFrom(): that would count the frames already on the socket as acknowledged.
    const from = this.#socketSeq
    const frames: Payload[] = []
    this.#outbound.forEach((seq, frame) => { if (seq > from && seq <= upTo) frames.push(frame) })
    this.#socketSeq = upTo
    batchWrites(socket)
    const before = socket.bufferedAmount
    for (const frame of frames) sendFrame(socket, frame)
    this.guard.checkBuffered(before)
  }

  /** @internal Another node claimed the session (a fan-out notice): let go of this copy now. */
  movedElsewhere (): void {
    if (this.isEnded) return
    this.#writer.stop()
    this.#superseded()
  }

  /** The store says another connection owns the session now (a resume on another node). */
  #superseded (): void {
    this.log.info({ session: this.sessionTag }, 'reliable session resumed elsewhere')
    if (this.#attached) this.closeWithCause(CloseCode.SESSION_REPLACED, undefined, 'replaced')
    else this.endSession(CloseCode.SESSION_REPLACED, 'session replaced', 'replaced')
  }
}
