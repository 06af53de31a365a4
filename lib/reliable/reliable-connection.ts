import type { EventEmitter } from 'node:events'
import type { RawData, WebSocket } from 'ws'
import { WsConnection, reportedCloseCode } from '../connection.js'
import type { CloseCause, ConnectionInit, Respond, WsMessage, WsOutgoing } from '../connection.js'
import { AckScheduler } from '../protocol/ack-scheduler.js'
import { encodePong } from '../protocol/app-ping.js'
import { CloseCode, truncateCloseReason } from '../protocol/close-codes.js'
import { decodeFrame, encodeAck, encodeDataFrame } from '../protocol/frames.js'
import type { DataFrame, Payload } from '../protocol/frames.js'
import { InboundTracker } from '../protocol/inbound-tracker.js'
import { OutboundLog } from '../protocol/outbound-log.js'
import { ProtocolError } from '../protocol/protocol-error.js'
import { batchWrites } from '../write-batcher.js'
import {
  FRWS_ERR_REQUEST_FAILED, FRWS_ERR_REQUEST_TIMEOUT, FRWS_ERR_SEND_TIMEOUT, FRWS_ERR_SESSION_ENDED
} from '../errors.js'
import type { ResolvedReliable } from './reliable-options.js'
import type { SessionState, SessionStore } from './session-store.js'
import { SessionWriter } from './session-writer.js'

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
  /** True once `fastify.close()` began. */
  readonly closing: boolean
  /** The session ended on this node (expired, closed, overflowed, moved): forget it. */
  sessionEnded (connection: ReliableConnection<object>): void
  /** The session lost its socket: expire it after `sessionTimeout` unless it is resumed. */
  sessionDetached (connection: ReliableConnection<object>, expiresAt: number): void
}

interface PendingRequest {
  resolve: (value: WsMessage) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
}

/** Close codes after which the session cannot continue (docs/PROTOCOL.md, "Session lifetime"). */
const SESSION_ENDING_CODES = new Set<number>([
  CloseCode.NORMAL, CloseCode.BAD_MESSAGE, CloseCode.INVALID_PAYLOAD, CloseCode.MESSAGE_TOO_BIG,
  CloseCode.BUFFER_OVERFLOW, CloseCode.UNSUPPORTED_DATA
])

function noop (): void {}

function toPayload (data: WsOutgoing): Payload {
  if (typeof data === 'string' || data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

function frameBytes (frame: Payload): number {
  return typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength
}

/**
 * A connection on a reliable route: the same API as a plain connection, but it is a session. It
 * numbers, logs and replays what it sends, dedupes and acknowledges what it receives, and outlives
 * its socket: on a reconnect the client resumes it (`resume` event) and nothing is lost or
 * duplicated. The `close` event fires when the session ends, not when a socket drops (`suspend`).
 */
export class ReliableConnection<Data extends object = Record<string, unknown>> extends WsConnection<Data> {
  /** The session id the client presents to resume. */
  readonly sessionId: string
  /** The session's epoch. */
  readonly epoch: string
  /** True when this node took over a session that began elsewhere (another node, or before a restart). */
  readonly resumedFromStore: boolean
  readonly #settings: ResolvedReliable
  readonly #reliableHost: ReliableHost
  readonly #outbound: OutboundLog
  readonly #inbound: InboundTracker
  readonly #acks: AckScheduler
  readonly #writer: SessionWriter
  readonly #requests = new Map<number, PendingRequest>()
  #attached = true
  #pendingRequests: Array<[number, WsMessage, boolean]> | null = []
  #suspendedBy = { code: CloseCode.ABNORMAL as number, reason: '' }

  constructor (
    socket: WebSocket, init: ConnectionInit, state: SessionState, ownerId: string,
    settings: ResolvedReliable, host: ReliableHost, resumedFromStore: boolean
  ) {
    super(socket, init)
    this.sessionId = state.sessionId
    this.epoch = state.epoch
    this.resumedFromStore = resumedFromStore
    this.#settings = settings
    this.#reliableHost = host
    this.#outbound = new OutboundLog({ maxCount: settings.maxUnacked, maxBytes: settings.maxUnackedBytes, acked: state.serverAcked })
    for (const message of state.messages) this.#outbound.push(message.frame, frameBytes(message.frame))
    this.#inbound = new InboundTracker(state.clientDelivered)
    this.#acks = new AckScheduler({
      source: this.#inbound,
      sendAck: (seq) => this.#sendControl(encodeAck(seq)),
      ackInterval: settings.ackInterval,
      ackEvery: settings.ackEvery
    })
    ;(this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'request' && this.#pendingRequests !== null) queueMicrotask(() => this.#flushPendingRequests())
    })
    this.#writer = new SessionWriter(
      host.store, state.sessionId, ownerId,
      () => this.#superseded(),
      (error) => this.log.error({ err: error, sessionId: this.sessionId }, 'session store update failed')
    )
  }

  /** True while a socket carries the session. */
  get isAttached (): boolean {
    return this.#attached
  }

  /** Until the session ends, including while it is suspended: what is sent then is replayed on resume. */
  override get acceptsMessages (): boolean {
    return !this.isEnded
  }

  /** Messages sent and not yet acknowledged by the client. */
  get unackedCount (): number {
    return this.#outbound.count
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
  override send (data: WsOutgoing, options?: ReliableSendOptions): Promise<void> {
    return this.#sendSequenced('D', 0, toPayload(data), options?.timeout)
  }

  /** Send a request; resolves with the client's response, rejects on its error response or the timeout. */
  request (data: WsOutgoing, options: RequestOptions = {}): Promise<WsMessage> {
    const timeout = options.timeout ?? this.#settings.requestTimeout
    const seq = this.#outbound.nextSeq
    const promise = new Promise<WsMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#requests.delete(seq)
        reject(new FRWS_ERR_REQUEST_TIMEOUT(timeout))
      }, timeout)
      timer.unref()
      this.#requests.set(seq, { resolve, reject, timer })
    })
    promise.catch(noop)
    this.#sendSequenced('Q', 0, toPayload(data), undefined).catch((error: Error) => {
      const pending = this.#requests.get(seq)
      if (pending === undefined) return
      this.#requests.delete(seq)
      clearTimeout(pending.timer)
      pending.reject(error)
    })
    return promise
  }

  /** @internal Attach a new socket after a resume on this node; the old one (if still open) gets 4409. */
  resumeOn (socket: WebSocket, ownerId: string): void {
    const previous = this.socket
    this.unwatchSocket()
    this.takeLocalClose()
    this.#writer.setOwner(ownerId)
    this.bindSocket(socket)
    this.#attached = true
    if (previous !== socket && previous.readyState <= 1) {
      previous.close(CloseCode.SESSION_REPLACED, 'session resumed on another connection')
    }
  }

  /**
   * @internal Complete the handshake on the current socket: the welcome is already sent; replay
   * what the client lacks after `clientDelivered`, then let new frames flow.
   */
  startStreaming (clientDelivered: number): void {
    this.#inbound.startConnection()
    const frames = this.#outbound.replayFrom(clientDelivered)
    this.#writer.acked(clientDelivered)
    if (frames.length === 0) return
    const socket = this.socket
    batchWrites(socket)
    for (const frame of frames) socket.send(frame)
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
      void this.#releaseInStore(this.ownerId).finally(() => this.#writer.stop())
    } else {
      this.#writer.stop()
      if (cause !== 'replaced') {
        void this.#reliableHost.store.delete(this.sessionId, this.ownerId).catch(noop)
      }
    }
    const error = new FRWS_ERR_SESSION_ENDED(this.sessionId, cause)
    this.#outbound.fail(error)
    for (const pending of this.#requests.values()) {
      clearTimeout(pending.timer)
      pending.reject(error)
    }
    this.#requests.clear()
    this.#pendingRequests = null
    this.#reliableHost.sessionEnded(this as ReliableConnection<object>)
    if (wasAttached && this.socket.readyState <= 1) this.socket.close(code, truncateCloseReason(reason))
    this.end(code, reason, cause)
  }

  /** @internal The client did not resume within `sessionTimeout`. */
  expire (): void {
    this.log.info({ sessionId: this.sessionId }, 'reliable session expired')
    this.endSession(this.#suspendedBy.code, this.#suspendedBy.reason, 'expired')
  }

  /** @internal Owner id of the socket that holds the session in the store. */
  get ownerId (): string {
    return this.#writer.ownerId
  }

  override closeWithCause (code: number, reason: string | undefined, cause: CloseCause): void {
    // A suspended session has no socket to close: the close ends the session directly.
    if (!this.#attached) {
      this.endSession(code, reason ?? '', cause)
      return
    }
    super.closeWithCause(code, reason, cause)
  }

  override terminateWithCause (cause: CloseCause): void {
    if (!this.#attached) {
      this.endSession(CloseCode.ABNORMAL, '', cause)
      return
    }
    super.terminateWithCause(cause)
  }

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
          if (this.#outbound.ack(frame.seq) > 0) this.#writer.acked(frame.seq)
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
      this.log.info({ err: error, sessionId: this.sessionId }, 'reliable websocket protocol violation')
      this.closeWithCause(error.closeCode, error.message, 'error')
    }
  }

  override socketClosed (code: number, reasonBytes: Buffer): void {
    this.unwatchSocket()
    const local = this.takeLocalClose()
    const reason = reasonBytes.toString()
    // A socket that was already closing when the server began to shut down ends with the shutdown.
    const cause = this.#reliableHost.closing ? 'shutdown' : local.cause ?? 'client'
    const sentCode = local.code
    const ends = cause === 'shutdown' || cause === 'replaced' ||
      (sentCode !== undefined ? SESSION_ENDING_CODES.has(sentCode) : code === CloseCode.NORMAL)
    if (ends) {
      this.endSession(reportedCloseCode(code, cause, sentCode), reason, cause)
      return
    }
    this.#attached = false
    this.#acks.stop()
    this.#suspendedBy = { code, reason }
    const expiresAt = Date.now() + this.#settings.sessionTimeout
    this.#reliableHost.sessionDetached(this as ReliableConnection<object>, expiresAt)
    void this.#releaseInStore(this.ownerId)
    this.log.debug({ sessionId: this.sessionId, code, cause }, 'reliable session suspended')
    this.emit('suspend', { code, reason, cause })
  }

  /** Release the session in the store under the owner that held it when the socket closed. */
  async #releaseInStore (ownerId: string): Promise<void> {
    try {
      await this.#writer.flush()
      await this.#reliableHost.store.release(this.sessionId, ownerId, this.#settings.sessionTimeout)
    } catch (error) {
      this.log.error({ err: error, sessionId: this.sessionId }, 'session store release failed')
    }
  }

  #receiveSequenced (frame: DataFrame, isBinary: boolean): void {
    if (this.#inbound.accept(frame.seq) === 'duplicate') {
      this.touch()
      return
    }
    this.touchMessage()
    this.#writer.delivered(frame.seq)
    const payload = frame.payload as WsMessage
    switch (frame.type) {
      case 'D':
        this.deliverOrQueue(payload, isBinary)
        break
      case 'Q':
        this.#receiveRequest(frame.seq, payload, isBinary)
        break
      default:
        this.#receiveResponse(frame)
    }
    this.#acks.delivered()
  }

  #receiveRequest (seq: number, payload: WsMessage, isBinary: boolean): void {
    if (this.#pendingRequests !== null && this.listenerCount('request') === 0) {
      // The handler may still be starting (async): hold requests like messages until it listens.
      this.#pendingRequests.push([seq, payload, isBinary])
      return
    }
    this.#answerRequest(seq, payload, isBinary)
  }

  #answerRequest (seq: number, payload: WsMessage, isBinary: boolean): void {
    let answered = false
    const respond: Respond = (response) => {
      if (answered) return
      answered = true
      if (response instanceof Error) void this.#sendSequenced('E', seq, response.message || 'request failed', undefined)
      else void this.#sendSequenced('R', seq, toPayload(response), undefined)
    }
    const listeners = this.listeners('request')
    if (listeners.length === 0) {
      respond(new Error('no request handler'))
      return
    }
    // Called here rather than through emit(), so that a listener that throws or rejects gets its
    // request answered instead of closing the connection. The reason stays generic: error
    // messages may carry internals; `respond(new Error(reason))` sends a reason on purpose.
    const failed = (error: unknown): void => {
      this.log.error({ err: error, sessionId: this.sessionId }, 'websocket request listener failed')
      respond(new Error('internal error'))
    }
    for (const listener of listeners) {
      try {
        const result: unknown = listener.call(this, payload, isBinary, respond)
        if (result instanceof Promise) result.catch(failed)
      } catch (error) {
        failed(error)
      }
    }
  }

  /** @internal Requests wait like messages for the handler to listen; when it settled without listening they are refused. */
  override handlerSettled (): void {
    super.handlerSettled()
    if (this.listenerCount('request') === 0) this.#flushPendingRequests()
  }

  #flushPendingRequests (): void {
    const pending = this.#pendingRequests
    this.#pendingRequests = null
    if (pending === null) return
    for (const [seq, payload, isBinary] of pending) this.#answerRequest(seq, payload, isBinary)
  }

  #receiveResponse (frame: DataFrame): void {
    if (frame.ref > this.#outbound.lastSeq) {
      throw new ProtocolError(CloseCode.BAD_MESSAGE, `response to request ${frame.ref} that was never sent`)
    }
    const pending = this.#requests.get(frame.ref)
    if (pending === undefined) return
    this.#requests.delete(frame.ref)
    clearTimeout(pending.timer)
    if (frame.type === 'E') pending.reject(new FRWS_ERR_REQUEST_FAILED(String(frame.payload)))
    else pending.resolve(frame.payload as WsMessage)
  }

  #sendSequenced (type: 'D' | 'Q' | 'R' | 'E', ref: number, payload: Payload, timeout: number | undefined): Promise<void> {
    if (this.isEnded) return rejected(new FRWS_ERR_SESSION_ENDED(this.sessionId, 'closed'))
    const seq = this.#outbound.nextSeq
    const frame = encodeDataFrame(type, seq, ref, payload, Buffer.allocUnsafe)
    const size = frameBytes(frame)
    if (!this.#outbound.fits(size)) {
      const error = new FRWS_ERR_SESSION_ENDED(this.sessionId, 'overflow')
      this.log.warn({ sessionId: this.sessionId, unacked: this.#outbound.count, bytes: this.#outbound.bytes }, 'reliable session buffer overflow')
      this.closeWithCause(CloseCode.BUFFER_OVERFLOW, undefined, 'error')
      return rejected(error)
    }
    let settle!: (error: Error | null) => void
    const promise = new Promise<void>((resolve, reject) => {
      settle = (error) => { if (error === null) resolve(); else reject(error) }
    })
    promise.catch(noop)
    this.#outbound.push(frame, size, settle)
    this.#writer.appended(seq, frame)
    const socket = this.socket
    if (this.#attached && socket.readyState === 1) {
      batchWrites(socket)
      socket.send(frame)
    }
    if (timeout === undefined) return promise
    return withTimeout(promise, timeout)
  }

  #sendControl (frame: string): void {
    const socket = this.socket
    if (!this.#attached || socket.readyState !== 1) return
    batchWrites(socket)
    socket.send(frame)
  }

  /** The store says another connection owns the session now (a resume on another node). */
  #superseded (): void {
    this.log.info({ sessionId: this.sessionId }, 'reliable session resumed elsewhere')
    if (this.#attached) this.closeWithCause(CloseCode.SESSION_REPLACED, undefined, 'replaced')
    else this.endSession(CloseCode.SESSION_REPLACED, 'session replaced', 'replaced')
  }
}

function rejected (error: Error): Promise<never> {
  const promise = Promise.reject(error)
  promise.catch(noop)
  return promise
}

function withTimeout (promise: Promise<void>, timeout: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const expiry = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new FRWS_ERR_SEND_TIMEOUT(timeout)), timeout)
    timer.unref()
  })
  const raced = Promise.race([promise, expiry]).finally(() => clearTimeout(timer))
  raced.catch(noop)
  return raced
}
