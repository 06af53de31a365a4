/**
 * The reliable-mode client: one session over a sequence of WebSocket connections
 * (docs/PROTOCOL.md; docs/CLIENT.md for usage and guarantees). Browser-safe: no Node imports.
 */
import { encodePong } from '../protocol/app-ping.js'
import { CloseCode, truncateCloseReason } from '../protocol/close-codes.js'
import { decodeFrame, frameSize, type DecodeOptions, type Frame, type Payload } from '../protocol/frames.js'
import { encodeHello } from '../protocol/handshake.js'
import type { SendCallback } from '../protocol/outbound-log.js'
import { ProtocolError } from '../protocol/protocol-error.js'
import { PROTOCOL_VERSION, SUBPROTOCOL, versionOfSubprotocol } from '../protocol/version.js'
import { ClientConnection, type ConnectionHandlers } from './client-connection.js'
import { ClientErrorCode, ReliableClientError } from './client-errors.js'
import type { ClientEvents, ClientState } from './client-events.js'
import { resolveClientOptions, type CloseInfo, type ReliableClientOptions, type ResolvedClientOptions, type UrlSource } from './client-options.js'
import { ClientSession, type OutgoingMessage, type PendingRequest } from './client-session.js'
import { Emitter, type Listener } from './emitter.js'
import { invalidArgument, isClientCloseCode, toPayload } from './outgoing-data.js'
import { ReconnectPolicy } from './reconnect-policy.js'
import { answerRequest } from './request-answerer.js'
import type { MessageSchemas } from '../messages/types.js'
import { describeProblem } from '../messages/validate.js'
import type { ClientTypesOf } from './client-options.js'
import { answerPayload, incomingPayload, invalidMessage, outgoingPayload, type SchemaName } from './typed-payloads.js'
import type { InvalidMessage } from '../messages/types.js'
import type { Checked } from '../messages/validate.js'
import { messageOf } from './error-message.js'

/** Options of {@link ReliableClient.send}. */
export interface SendOptions {
  /** Reject with `FRWS_ERR_CLIENT_ACK_TIMEOUT` when no ack arrives within this many ms; the message stays queued. */
  timeout?: number
}

/** Options of {@link ReliableClient.request}. */
export interface RequestOptions {
  /**
   * Reject with `FRWS_ERR_CLIENT_REQUEST_TIMEOUT` when no response arrives within this many ms.
   * @default the client option `requestTimeout` (30000)
   */
  timeout?: number
}

interface VisibilitySource {
  readonly visibilityState: string
  addEventListener (type: 'visibilitychange', listener: () => void): void
  removeEventListener (type: 'visibilitychange', listener: () => void): void
}

function noop (): void {}

/** True when `frame` is over `maxPayload` bytes ([R-CL-9]); the UTF-8 length is computed only when it could matter. */
function exceeds (frame: Payload, maxPayload: number): boolean {
  if (typeof frame !== 'string') return frame.byteLength > maxPayload
  return frame.length > maxPayload || (frame.length * 3 > maxPayload && frameSize(frame) > maxPayload)
}

const FROM_SERVER: DecodeOptions = { sender: 'server' }

/** The message of the `error` event of `ws` when the server selected none of the offered subprotocols. */
const WS_NO_SUBPROTOCOL = 'Server sent no subprotocol'


/**
 * A reliable-mode connection to a `fastify-reliable-ws` route that outlives its sockets. It
 * connects at once (in a microtask, so listeners added right after construction see every event),
 * reconnects with backoff, resumes the session and replays what the server lacks. See
 * docs/CLIENT.md.
 */
export class ReliableClient<M extends MessageSchemas | undefined = undefined> {
  private readonly options: ResolvedClientOptions
  private readonly url: UrlSource
  private readonly emitter = new Emitter<ClientEvents<ClientTypesOf<M>>>()
  private readonly session: ClientSession
  private readonly policy: ReconnectPolicy
  private readonly visibility: VisibilitySource | undefined
  private conn: ClientConnection | undefined = undefined
  private stateValue: ClientState = 'connecting'
  private opened = false
  private ended = false
  private endError: ReliableClientError | undefined = undefined
  private reconnectTimer: unknown = undefined
  private maxPayload = Infinity
  private lastSocketClosed: Promise<void> = Promise.resolve()

  /**
   * @param url - the route's `ws:`/`wss:` URL, or a function returning it (possibly async), called
   *   before every connection so that credentials in the URL can be refreshed
   * @throws {ReliableClientError} `FRWS_ERR_CLIENT_NO_WEBSOCKET`, `FRWS_ERR_CLIENT_INVALID_OPTION`
   */
  constructor (url: UrlSource, options: ReliableClientOptions<M> = {}) {
    this.options = resolveClientOptions(options as ReliableClientOptions<MessageSchemas | undefined>)
    if (typeof url !== 'string' && typeof url !== 'function' && !(url instanceof URL)) {
      throw new ReliableClientError(ClientErrorCode.INVALID_OPTION, 'url must be a string, a URL or a function returning one')
    }
    this.url = url
    this.session = new ClientSession(this.options.maxUnacked, this.options.maxUnackedBytes)
    this.policy = new ReconnectPolicy(this.options, (error) => this.emitter.emit('error', error))
    const doc = (globalThis as { document?: VisibilitySource }).document
    this.visibility = typeof doc?.addEventListener === 'function' ? doc : undefined
    this.visibility?.addEventListener('visibilitychange', this.onVisibilityChange)
    queueMicrotask(() => this.openSocket())
  }

  /** The current state; see {@link ClientState}. */
  get state (): ClientState {
    return this.stateValue
  }

  /** The id of the current session, `undefined` before the first handshake. */
  get sessionId (): string | undefined {
    return this.session.sessionId
  }

  /** Messages sent and not yet acknowledged, plus messages queued while offline. */
  get bufferedCount (): number {
    return this.session.bufferedCount
  }

  /** Add a listener; returns a function that removes it. */
  on<K extends keyof ClientEvents> (event: K, listener: Listener<ClientEvents<ClientTypesOf<M>>, K>): () => void {
    return this.emitter.on(event, listener)
  }

  /** Add a listener for the next occurrence only; returns a function that removes it. */
  once<K extends keyof ClientEvents> (event: K, listener: Listener<ClientEvents<ClientTypesOf<M>>, K>): () => void {
    return this.emitter.once(event, listener)
  }

  /** Remove a listener. */
  off<K extends keyof ClientEvents> (event: K, listener: Listener<ClientEvents<ClientTypesOf<M>>, K>): void {
    this.emitter.off(event, listener)
  }

  /**
   * Send a message; while offline it is queued and goes out after the next handshake. The promise
   * resolves when the server acknowledges the message (it was handed to the route's handler). It
   * is marked handled: a send nobody awaits never raises an unhandled rejection.
   * @returns rejects with `FRWS_ERR_CLIENT_BUFFER_FULL`, `_MESSAGE_TOO_BIG`, `_ACK_TIMEOUT` (the
   *   message stays queued and may still arrive), `_CONTINUITY_LOST`, `_CLOSED`, `_GAVE_UP` or `_INVALID_ARGUMENT`
   */
  send (data: ClientTypesOf<M>['send'], options?: SendOptions): Promise<void> {
    const timeout = options?.timeout
    let timer: unknown
    let callback: SendCallback = noop
    const promise = new Promise<void>((resolve, reject) => {
      // Called by the ack, the timeout or a refusal; a promise settles once, so later calls do nothing.
      callback = (error) => {
        if (timer !== undefined) this.options.clearTimeout(timer)
        if (error === null) return resolve()
        // Marked handled only when it rejects: a handler on every send would cost a reaction per ack.
        promise.catch(noop)
        reject(error)
      }
    })
    try {
      const payload = outgoingPayload(this.options.messages, 'send', 'fromClient', data, timeout)
      const refused = payload instanceof ReliableClientError ? payload : this.endError ?? this.submit({ type: 'D', ref: 0, payload, callback })
      if (refused !== undefined) {
        callback(refused)
      } else if (timeout !== undefined && timeout !== Infinity) {
        timer = this.options.setTimeout(() => callback(new ReliableClientError(ClientErrorCode.ACK_TIMEOUT,
          `No acknowledgement within ${timeout} ms; the message stays queued and may still be delivered`)), timeout)
      }
    } catch (error) {
      // A schema or codec that throws rejects the send, as a refused message does.
      callback(error as Error)
    }
    return promise
  }

  /**
   * Send a request; the route's request handler answers it. Queued while offline, like `send()`.
   * The timeout keeps running across reconnects.
   * @returns the response; rejects with `FRWS_ERR_CLIENT_REQUEST_FAILED` (the server's reason),
   *   `_REQUEST_TIMEOUT`, or the errors of `send()`
   */
  request (data: ClientTypesOf<M>['requestOut'], options: RequestOptions = {}): Promise<ClientTypesOf<M>['response']> {
    return new Promise((resolve, reject) => {
      const payload = outgoingPayload(this.options.messages, 'request', 'clientRequest', data, options.timeout)
      if (payload instanceof ReliableClientError || this.endError !== undefined) {
        reject(payload instanceof ReliableClientError ? payload : this.endError)
        return
      }
      const timeout = options.timeout ?? this.options.requestTimeout
      let timer: unknown
      const request: PendingRequest = {
        seq: 0,
        settled: false,
        settle: (error, response) => {
          if (request.settled) return
          request.settled = true
          if (timer !== undefined) this.options.clearTimeout(timer)
          if (error !== null) {
            reject(error)
            return
          }
          const checked = this.incoming('response', 'clientResponse', response as Payload)
          if (checked.ok) resolve(checked.value)
          else reject(invalidMessage('incoming', checked.problem))
        }
      }
      const refused = this.submit({ type: 'Q', ref: 0, payload, request })
      if (refused !== undefined) {
        request.settle(refused)
      } else if (timeout !== Infinity) {
        timer = this.options.setTimeout(() => {
          this.session.forgetRequest(request)
          request.settle(new ReliableClientError(ClientErrorCode.REQUEST_TIMEOUT, `No response within ${timeout} ms`))
        }, timeout)
      }
    })
  }

  /**
   * End the session on purpose: no reconnect. Pending sends and requests reject with
   * `FRWS_ERR_CLIENT_CLOSED`; `close` (if a socket was open) and `end` are emitted before this
   * returns. With 1000 the server ends the session at once; with another code it keeps it for its
   * `sessionTimeout`, but this client will not resume it. Calling it again does nothing.
   * @param code - 1000 or 3000-4999 (what browsers allow)
   * @param reason - at most 123 bytes of UTF-8; longer is cut
   * @returns resolves when the socket has closed
   * @throws {ReliableClientError} `FRWS_ERR_CLIENT_INVALID_ARGUMENT` for another code
   */
  close (code: number = CloseCode.NORMAL, reason = ''): Promise<void> {
    if (!isClientCloseCode(code)) throw invalidArgument(`close code must be 1000 or 3000-4999, received ${String(code)}`)
    if (this.ended) return this.lastSocketClosed
    const info = { code, reason: truncateCloseReason(reason) }
    const conn = this.conn
    this.stateValue = 'closed'
    if (conn !== undefined) {
      conn.acks?.flush()
      conn.close(info)
      this.detach(conn)
      this.emitter.emit('close', { ...info, willReconnect: false })
    }
    this.finish(info, undefined)
    return this.lastSocketClosed
  }

  private submit (message: OutgoingMessage): ReliableClientError | undefined {
    const conn = this.conn
    const online = this.stateValue === 'open' && conn?.welcomed === true
    const refused = this.session.submit(message, this.maxPayload, online ? conn.transmitter : undefined)
    if (refused === undefined && this.stateValue === 'idle') {
      this.stateValue = this.opened ? 'reconnecting' : 'connecting'
      this.openSocket()
    }
    return refused
  }

  private openSocket (): void {
    if (this.ended) return
    const url = this.url
    if (typeof url !== 'function') {
      this.createSocket(String(url))
      return
    }
    const failed = (error: unknown): void => {
      if (this.ended) return
      this.emitter.emit('error', new ReliableClientError(ClientErrorCode.CONNECTION, `The url function failed: ${messageOf(error)}`, { cause: error }))
      this.connectionLost({ code: CloseCode.ABNORMAL, reason: 'url function failed' }, false, false)
    }
    try {
      const result = url()
      if (typeof (result as Promise<string | URL>).then === 'function') {
        (result as Promise<string | URL>).then((value) => { if (!this.ended) this.createSocket(String(value)) }, failed)
      } else {
        this.createSocket(String(result))
      }
    } catch (error) {
      failed(error)
    }
  }

  private createSocket (url: string): void {
    let socket
    try {
      socket = new this.options.WebSocket(url, [SUBPROTOCOL])
    } catch (error) {
      // A constructor throws for a malformed URL: retrying cannot help.
      this.finish({ code: CloseCode.ABNORMAL, reason: 'cannot open a WebSocket' }, new ReliableClientError(ClientErrorCode.GAVE_UP,
        `Cannot open a WebSocket to ${url}: ${messageOf(error)}`, { cause: error, closeCode: CloseCode.ABNORMAL }))
      return
    }
    const { setTimeout: setTimer, clearTimeout: clearTimer, now, handshakeTimeout } = this.options
    this.conn = new ClientConnection(socket, handshakeTimeout, { setTimer, clearTimer, now }, this.handlers)
    this.lastSocketClosed = this.conn.closed
  }

  // Every handler ignores connections the client already left.
  private readonly handlers: ConnectionHandlers = {
    open: (conn) => {
      if (conn !== this.conn) return
      const selected = conn.socket.protocol
      // A WebSocket implementation that does not report the subprotocol cannot be checked here.
      if (selected !== undefined && versionOfSubprotocol(selected) === undefined) {
        this.notReliable(conn, `the server selected ${selected === '' ? 'no subprotocol' : `the subprotocol "${selected}"`}`)
        return
      }
      conn.resume = this.session.resumePosition()
      conn.transmit(encodeHello({ version: PROTOCOL_VERSION, resume: conn.resume }))
    },
    message: (conn, data) => this.onMessage(conn, data),
    error: (conn, event) => {
      if (conn !== this.conn) return
      const detail = (event as { message?: unknown } | undefined)?.message
      // ws (Node) fails the handshake itself when the server selects none of the offered subprotocols.
      if (detail === WS_NO_SUBPROTOCOL) {
        this.notReliable(conn, 'the server selected no subprotocol')
        return
      }
      this.emitter.emit('error', new ReliableClientError(ClientErrorCode.CONNECTION,
        typeof detail === 'string' && detail !== '' ? `WebSocket error: ${detail}` : 'WebSocket error', { cause: event }))
    },
    close: (conn, info) => {
      if (conn !== this.conn) return
      this.detach(conn)
      // The session stays with its owner; this client can only start a new one (PROTOCOL.md, close codes).
      if (info.code === CloseCode.RESUME_REFUSED || info.code === CloseCode.WRONG_ROUTE) this.session.forgetResume()
      this.connectionLost(info, false, true)
    },
    handshakeTimeout: (conn) => {
      if (conn === this.conn) this.abandon(conn, CloseCode.HANDSHAKE_TIMEOUT, `no welcome within handshakeTimeout (${this.options.handshakeTimeout} ms)`)
    }
  }

  private onMessage (conn: ClientConnection, data: unknown): void {
    if (conn !== this.conn) return
    conn.liveness?.heard()
    try {
      const frame = toPayload(data)
      if (frame === undefined) throw new ProtocolError(CloseCode.BAD_MESSAGE, 'message data is neither text nor an ArrayBuffer')
      if (exceeds(frame, this.maxPayload)) {
        throw new ProtocolError(CloseCode.BAD_MESSAGE, `a frame of ${frameSize(frame)} bytes exceeds maxPayload (${this.maxPayload})`)
      }
      const decoded = decodeFrame(frame, FROM_SERVER)
      if (conn.welcomed) this.handleFrame(conn, decoded)
      else this.handleWelcome(conn, decoded)
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
      // Browsers may close only with 1000 or 3000-4999, so a 1009 goes out as 4400.
      const code = isClientCloseCode(error.closeCode) ? error.closeCode : CloseCode.BAD_MESSAGE
      this.emitter.emit('error', new ReliableClientError(ClientErrorCode.PROTOCOL,
        `The server broke the protocol: ${error.message}`, { cause: error, closeCode: code }))
      if (conn === this.conn) this.abandon(conn, code, error.message)
    }
  }

  private handleWelcome (conn: ClientConnection, frame: Frame): void {
    if (frame.type !== 'W') throw new ProtocolError(CloseCode.BAD_MESSAGE, `expected a welcome frame first, got a '${frame.type}' frame`)
    const outcome = this.session.applyWelcome(frame, conn.resume)
    conn.established(frame, this.session.inbound, () => {
      if (conn === this.conn) this.abandon(conn, CloseCode.HANDSHAKE_TIMEOUT, `heartbeat timeout: no frame within ${frame.pongTimeout} ms after a ping`)
    })
    this.policy.connected()
    this.maxPayload = frame.maxPayload
    for (const replayed of outcome.replay) conn.transmit(replayed)
    this.session.flush(this.maxPayload, conn.transmitter)
    this.opened = true
    this.stateValue = 'open'
    const sessionId = frame.sessionId
    if (outcome.kind === 'new') {
      this.emitter.emit('open', { sessionId })
    } else if (outcome.kind === 'resumed') {
      this.emitter.emit('resumed', { continuity: true, sessionId })
    } else {
      this.emitter.emit('continuityLost', { previousSessionId: outcome.previousSessionId ?? '', sessionId, lost: outcome.lost })
      if (conn === this.conn) this.emitter.emit('resumed', { continuity: false, sessionId })
    }
  }

  private handleFrame (conn: ClientConnection, frame: Frame): void {
    const inbound = this.session.inbound
    switch (frame.type) {
      case 'D': {
        if (inbound.accept(frame.seq) !== 'deliver') return
        // An invalid message is acknowledged all the same: a replay could never make it valid.
        const checked = this.incoming('message', 'fromServer', frame.payload)
        if (checked.ok) this.emitter.emit('message', checked.value, typeof frame.payload !== 'string')
        break
      }
      case 'Q': {
        if (inbound.accept(frame.seq) !== 'deliver') return
        const checked = this.incoming('request', 'serverRequest', frame.payload)
        if (checked.ok) this.answer(frame.seq, checked.value)
        else this.submit({ type: 'E', ref: frame.seq, payload: `invalid request ${describeProblem(checked.problem)}` })
        break
      }
      case 'R':
      case 'E':
        this.session.checkRef(frame.ref)
        // Delivery is in order: an answer to request `ref` proves the server delivered it and all before it.
        this.session.ack(frame.ref)
        if (inbound.accept(frame.seq) !== 'deliver') return
        // The server answered only after delivering the request, in order: the answer acks it ([R-AK-5]).
        this.session.ack(frame.ref)
        this.session.settleResponse(frame.ref, frame.payload, frame.type === 'E')
        break
      case 'A':
        this.session.ack(frame.seq)
        return
      case 'ping':
        conn.transmit(encodePong(frame.token))
        return
      case 'pong':
        return
      default:
        throw new ProtocolError(CloseCode.BAD_MESSAGE, 'unexpected welcome frame after the handshake')
    }
    // A listener may have closed the client meanwhile.
    if (conn === this.conn) conn.acks?.delivered()
  }

  // An answer to a request of a session that is gone has nobody to go to.
  private answer (ref: number, data: unknown): void {
    const generation = this.session.generation
    answerRequest(this.options.onRequest, data, (value) => answerPayload(this.options.messages, value, (error) => this.emitter.emit('error', error)), (answer) => {
      if (this.ended || generation !== this.session.generation) return
      let reason: string
      if (answer.ok) {
        const refused = this.submit({ type: 'R', ref, payload: answer.payload })
        if (refused === undefined) return
        reason = refused.message
      } else {
        reason = answer.reason
      }
      const refused = this.submit({ type: 'E', ref, payload: reason })
      if (refused !== undefined) this.emitter.emit('error', refused)
    })
  }

  private incoming (kind: InvalidMessage['kind'], schema: SchemaName, payload: Payload): Checked<unknown> {
    return incomingPayload(this.options.messages, kind, schema, payload, (info) => this.emitter.emit('invalid', info))
  }

  // Retrying cannot help: the URL names a route that does not speak the protocol.
  private notReliable (conn: ClientConnection, what: string): void {
    const info = { code: CloseCode.NORMAL, reason: 'not a reliable route' }
    conn.close(info)
    this.detach(conn)
    this.finish(info, new ReliableClientError(ClientErrorCode.NOT_RELIABLE_ROUTE,
      `Not a reliable route: ${what} (expected "${SUBPROTOCOL}"). Declare the route with { reliable: true }, or check the URL.`,
      { closeCode: CloseCode.NORMAL }))
  }

  private detach (conn: ClientConnection): void {
    conn.stop()
    if (this.conn === conn) this.conn = undefined
  }

  // The client leaves a connection without waiting for the close handshake: a dead server never answers it.
  private abandon (conn: ClientConnection, code: number, reason: string): void {
    conn.close({ code, reason })
    this.detach(conn)
    this.connectionLost({ code, reason }, true, true)
  }

  private connectionLost (info: CloseInfo, byClient: boolean, hadSocket: boolean): void {
    this.stateValue = this.opened ? 'reconnecting' : 'connecting'
    const decision = this.policy.decide(info, byClient)
    if (hadSocket) this.emitter.emit('close', { ...info, willReconnect: decision.action === 'reconnect' })
    if (this.ended) return
    if (decision.action === 'give-up') {
      this.finish(info, decision.error)
    } else if (decision.action === 'idle') {
      this.stateValue = 'idle'
    } else {
      this.reconnectTimer = this.options.setTimeout(() => {
        this.reconnectTimer = undefined
        this.openSocket()
      }, decision.delay)
      this.emitter.emit('reconnecting', { attempt: decision.attempt, delay: decision.delay, closeInfo: info })
    }
  }

  private finish (info: CloseInfo, error: ReliableClientError | undefined): void {
    if (this.ended) return
    this.ended = true
    this.stateValue = 'closed'
    if (this.reconnectTimer !== undefined) this.options.clearTimeout(this.reconnectTimer)
    this.reconnectTimer = undefined
    this.visibility?.removeEventListener('visibilitychange', this.onVisibilityChange)
    this.endError = error ?? new ReliableClientError(ClientErrorCode.CLOSED, 'The client was closed')
    this.session.failAll(this.endError)
    this.emitter.emit('end', { ...info, error })
  }

  // A hidden tab's timers are throttled; check the server at once when the user comes back.
  private readonly onVisibilityChange = (): void => {
    if (this.visibility?.visibilityState === 'visible') this.conn?.liveness?.wake()
  }
}
