import type { EventEmitter } from 'node:events'
import { WsConnection } from '../connection.js'
import type { CloseCause, ConnectionInit, UntypedMessages, WsMessage, WsOutgoing } from '../connection.js'
import type { MessageTypes } from '../messages/types.js'
import { describeProblem } from '../messages/validate.js'
import { AckScheduler } from '../protocol/ack-scheduler.js'
import { encodePong } from '../protocol/app-ping.js'
import { CloseCode } from '../protocol/close-codes.js'
import type { Transport } from '../transport/transport.js'
import { decodeFrame, encodeAck } from '../protocol/frames.js'
import type { DataFrame } from '../protocol/frames.js'
import { InboundTracker } from '../protocol/inbound-tracker.js'
import { OutboundLog } from '../protocol/outbound-log.js'
import { ProtocolError } from '../protocol/protocol-error.js'
import {
  FRWS_ERR_MESSAGE_INVALID, FRWS_ERR_REQUEST_FAILED, FRWS_ERR_REQUEST_LIMIT
} from '../errors.js'
import type { ResolvedReliable } from './reliable-options.js'
import type { SessionState, SessionStore } from '../store/session-store.js'
import { SessionWriter } from './session-writer.js'
import { SessionLifetime } from './session-lifetime.js'
import { SessionSender } from './session-sender.js'
import { decodePayload, encodePayload, toPayload } from './session-payloads.js'
import { sessionTag } from './session-tag.js'
import { OutgoingRequests } from './outgoing-requests.js'
import { IncomingRequests } from './incoming-requests.js'
import { rejected } from './send-promises.js'
import { SessionShare, frameHeldBytes } from './session-budget.js'
import type { SessionBudget } from './session-budget.js'
import { publishConnectionClose } from '../metrics/publish.js'
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
  readonly #outbound: OutboundLog
  readonly #inbound: InboundTracker
  readonly #acks: AckScheduler
  readonly #writer: SessionWriter
  readonly #outgoing = new OutgoingRequests()
  readonly #incoming = new IncomingRequests(this)
  readonly #share: SessionShare
  readonly #lifetime: SessionLifetime
  readonly #sender: SessionSender

  /** @internal */
  constructor (
    transport: Transport, init: ConnectionInit, state: SessionState, ownerId: string,
    settings: ResolvedReliable, host: ReliableHost, resumedFromStore: boolean
  ) {
    super(transport, init)
    this.sessionId = state.sessionId
    this.sessionTag = sessionTag(state.sessionId)
    this.epoch = state.epoch
    this.resumedFromStore = resumedFromStore
    this.budgetKey = state.principal === null ? `address:${init.remoteAddress}` : `principal:${state.principal}`
    this.#settings = settings
    this.#outbound = new OutboundLog({ maxCount: settings.maxUnacked, maxBytes: settings.maxUnackedBytes, acked: state.serverAcked })
    for (const message of state.messages) this.#outbound.push(message.frame, frameHeldBytes(message.frame))
    // A session taken over from the store is charged what it holds, even past the budget: refusing
    // it here would lose messages the client is owed; later sends meet the limits.
    this.#share = new SessionShare(host.budget)
    this.#share.sync(this.#outbound)
    this.#inbound = new InboundTracker(state.clientDelivered)
    this.#acks = new AckScheduler({
      // Acks only what the store has committed (docs/SCALE-OUT.md, "Durability rule").
      source: this,
      sendAck: (seq) => this.#sender.control(encodeAck(seq)),
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
    this.#lifetime = new SessionLifetime(this as ReliableConnection<object>, {
      settings, host, outbound: this.#outbound, inbound: this.#inbound, acks: this.#acks, writer: this.#writer,
      outgoing: this.#outgoing, incoming: this.#incoming, share: this.#share
    })
    this.#sender = new SessionSender(this as ReliableConnection<object>, {
      host, outbound: this.#outbound, share: this.#share, writer: this.#writer, lifetime: this.#lifetime, guard: this.guard
    }, state.serverSeq)
  }

  /** @internal True while a socket carries the session. */
  get isAttached (): boolean {
    return this.#lifetime.attached
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
    const payload = encodePayload(this.messages, this.messages?.fromServer, data)
    if (!payload.ok) return this.outgoingRejection(payload.problem)
    return this.#sender.sequenced('D', 0, payload.value, options?.timeout)
  }

  /** @internal A payload already encoded by `broadcast()`: numbered and kept like any `send()`. */
  override sendEncoded (data: WsOutgoing): Promise<void> {
    return this.#sender.sequenced('D', 0, toPayload(data), undefined)
  }

  /**
   * Send a request; resolves with the client's response, rejects on its error response or the
   * timeout, and at once with FRWS_ERR_REQUEST_LIMIT when `reliable.maxRequestsInFlight` requests
   * of this session already wait for a response (nothing is sent then).
   */
  request (data: T['requestOut'], options: RequestOptions = {}): Promise<T['response']> {
    const payload = encodePayload(this.messages, this.messages?.serverRequest, data)
    if (!payload.ok) return this.outgoingRejection(payload.problem)
    if (this.#outgoing.size >= this.#settings.maxRequestsInFlight) {
      this.log.warn({ connectionId: this.id, maxRequestsInFlight: this.#settings.maxRequestsInFlight }, 'reliable request refused: too many in flight')
      return rejected(new FRWS_ERR_REQUEST_LIMIT(this.#settings.maxRequestsInFlight))
    }
    const seq = this.#outbound.nextSeq
    // Waiting before sending: a send that ends the session rejects this request with the others.
    const promise = this.#outgoing.open(seq, options.timeout ?? this.#settings.requestTimeout) as Promise<T['response']>
    this.#sender.sequenced('Q', 0, payload.value, undefined).catch((error: Error) => this.#outgoing.take(seq)?.reject(error))
    return promise
  }

  /** @internal Attach a new transport after a resume on this node; the old one (if still open) gets 4409. */
  resumeOn (transport: Transport, ownerId: string): void {
    const previous = this.transport
    // The previous socket's own close event is ignored from here on: report its end now.
    if (this.#lifetime.attached) publishConnectionClose(this, true, CloseCode.SESSION_REPLACED, 'session resumed on another connection', 'replaced')
    this.unwatchSocket()
    this.takeLocalClose()
    this.#writer.setOwner(ownerId)
    this.bindTransport(transport)
    this.#lifetime.attached = true
    if (previous !== transport && previous.readyState <= 1) {
      previous.closeWithinBound(CloseCode.SESSION_REPLACED, 'session resumed on another connection')
    }
  }

  /**
   * @internal Complete the handshake on the current socket: the welcome is already sent; replay
   * what the client lacks after `clientDelivered`, then let new frames flow.
   */
  startStreaming (clientDelivered: number): void {
    this.#inbound.startConnection()
    this.#sender.replay(clientDelivered)
  }

  /** @internal The server's position for the welcome and the checks of a resume. */
  get outboundState (): { acked: number, lastSeq: number } {
    return { acked: this.#outbound.acked, lastSeq: this.#outbound.lastSeq }
  }

  /** @internal The session is over for this node: wind it down (`SessionLifetime.end()`), then emit `close`. Runs once. */
  endSession (code: number, reason: string, cause: CloseCause): void {
    if (this.isEnded) return
    this.#lifetime.end(code, reason, cause)
    this.end(code, reason, cause)
  }

  /** @internal The client did not resume within `sessionTimeout` (or `sessionBudget.unackedSessionTimeout`). */
  expire (): void {
    this.#lifetime.expire()
  }

  /**
   * @internal The memory budget ends this session to make room (docs/PROTOCOL.md, "Memory budget"):
   * 4507 to its socket if attached; its store record is deleted, so a resume gets `resumed: false`.
   * @param limit - the `sessionBudget` option that forced it, for the log
   */
  shed (limit: LimitName): void {
    this.#lifetime.shed(limit)
  }

  /** @internal Close the current socket, if still open, without recording a cause (the session is ending). */
  closeSocket (code: number, reason: string): void {
    if (this.transport.readyState <= 1) this.transport.close(code, reason)
  }

  /** @internal Owner id of the socket that holds the session in the store. */
  get ownerId (): string {
    return this.#writer.ownerId
  }

  /** @internal */
  override closeWithCause (code: number, reason: string | undefined, cause: CloseCause): void {
    // A suspended session has no socket to close: the close ends the session directly.
    if (!this.#lifetime.attached) {
      this.endSession(code, reason ?? '', cause)
      return
    }
    // What was delivered is acknowledged before the close ([R-AK-4]): the client must not count it
    // as maybe lost. Not held for the store: this node is alive and its writer retries until committed.
    if (this.transport.readyState === 1) {
      this.#acks.stop()
      const seq = this.#inbound.takeAck()
      if (seq > 0) this.#sender.control(encodeAck(seq))
    }
    super.closeWithCause(code, reason, cause)
  }

  /** @internal */
  override terminateWithCause (cause: CloseCause): void {
    if (!this.#lifetime.attached) {
      this.endSession(CloseCode.ABNORMAL, '', cause)
      return
    }
    super.terminateWithCause(cause)
  }

  /** @internal */
  override receive (data: WsMessage, isBinary: boolean): void {
    // Once this side started closing (a violation, an overflow), later frames are not processed:
    // they would be delivered after the offence, and unacked ones are replayed on a resume anyway.
    if (this.transport.readyState !== 1) return
    let frame
    try {
      frame = decodeFrame(data, { sender: 'client' })
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
            this.#sender.syncShare()
          }
          return
        case 'ping':
          this.touch()
          this.#sender.control(encodePong(frame.token))
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

  /** @internal The current socket closed: the session ends or is suspended (`SessionLifetime.socketClosed()`). */
  override socketClosed (code: number, reasonBytes: Buffer): void {
    this.unwatchSocket()
    this.#lifetime.socketClosed(code, reasonBytes.toString(), this.takeLocalClose())
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
        const checked = decodePayload(this as ReliableConnection<object>, this.messages, 'message', this.messages?.fromClient, payload)
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
    const checked = decodePayload(this as ReliableConnection<object>, this.messages, 'request', this.messages?.clientRequest, payload)
    if (!checked.ok) {
      // Answered at once with the first failing path, so the client's request() rejects instead of waiting.
      void this.#sender.sequenced('E', seq, `invalid request ${describeProblem(checked.problem)}`, undefined)
      return
    }
    if (this.#incoming.receive(seq, checked.value, isBinary)) this.transport.pause()
  }

  /** @internal Send the answer to client request `seq`: an Error as an error response, a value through the route's schema. */
  answerRequest (seq: number, response: unknown): void {
    if (response instanceof Error) {
      void this.#sender.sequenced('E', seq, response.message || 'request failed', undefined)
      return
    }
    const encoded = encodePayload(this.messages, this.messages?.clientResponse, response)
    if (encoded.ok) {
      void this.#sender.sequenced('R', seq, encoded.value, undefined)
      return
    }
    // The application's bug, not the client's: logged with the coded error, the client gets a generic reason.
    const error = new FRWS_ERR_MESSAGE_INVALID('outgoing', describeProblem(encoded.problem))
    this.log.error({ err: error, session: this.sessionTag }, 'reliable websocket response failed its schema; error response sent')
    void this.#sender.sequenced('E', seq, 'internal error', undefined)
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
    const checked = decodePayload(this as ReliableConnection<object>, this.messages, 'response', this.messages?.serverResponse, frame.payload as WsMessage)
    if (checked.ok) pending.resolve(checked.value)
    else pending.reject(new FRWS_ERR_MESSAGE_INVALID('incoming', describeProblem(checked.problem)))
  }

  /** @internal SessionWriterHost: the store says another connection owns the session now. */
  storeSuperseded (): void {
    this.#lifetime.superseded()
  }

  /** @internal SessionWriterHost: a write failed and will be retried. */
  storeWriteFailed (error: unknown, retryDelay: number): void {
    this.log.error({ err: error, session: this.sessionTag, retryDelay }, 'session store update failed')
  }

  /** @internal SessionWriterHost: the store committed a write: acknowledge what it recorded, and send what it now holds. */
  storeCommitted (): void {
    if (!this.#lifetime.attached || this.isEnded) return
    if (this.#writer.committed.clientDelivered > this.#inbound.acked) this.#acks.delivered()
    this.#sender.writeCommitted()
  }

  /** @internal Another node claimed the session (a fan-out notice): let go of this copy now. */
  movedElsewhere (): void {
    this.#lifetime.movedElsewhere()
  }
}
