import { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import { CloseCode, CloseReason, isAbnormalCloseCode } from './protocol/close-codes.js'
import { FRWS_ERR_CONNECTION_CLOSED } from './errors.js'
import { ConnectionGuard } from './limits/connection-guard.js'
import type { ConnectionLimits } from './limits/limit-options.js'
import type { HeartbeatManager, HeartbeatSlot } from './heartbeat/heartbeat-manager.js'
import type { HeartbeatSettings } from './heartbeat/heartbeat-settings.js'
import { isHeartbeatActive } from './heartbeat/heartbeat-settings.js'
import { parsePing, encodePong } from './protocol/app-ping.js'
import type { MessageTypes } from './messages/types.js'
import type { CloseCause, CloseInfo, UntypedMessages, WsConnectionEvents, WsMessage, WsOutgoing } from './connection-events.js'
import { describeProblem, decodeIncoming, encodeOutgoing } from './messages/validate.js'
import type { Problem, ResolvedMessages } from './messages/validate.js'
import { FRWS_ERR_MESSAGE_INVALID } from './errors.js'
import {
  messageOut, publishConnectionClose, publishHeartbeatRtt, publishHeartbeatTimeout, publishMessageOut
} from './metrics/publish.js'
import type { Transport } from './transport/transport.js'
import { MessageQueue } from './message-queue.js'

// The public types of the connection's events and payloads live beside it; re-exported here, the module of the connection's API.
export type { CloseCause, CloseInfo, Respond, UntypedMessages, WsConnectionEvents, WsMessage, WsOutgoing } from './connection-events.js'

/** What a connection needs from the plugin that owns it. */
export interface ConnectionHost {
  /** Watches sockets for silence; one shared timer for all connections. */
  readonly heartbeat: HeartbeatManager
  /** Called once when the socket has closed, so the host can forget the connection. */
  connectionClosed (connection: WsConnection<object>): void
  /** Called when the connection joins or leaves a room. */
  roomChanged (connection: WsConnection<object>, room: string, joined: boolean): void
}

/** What a connection is created with. */
export interface ConnectionInit {
  id: string
  /** The route path the upgrade matched (`request.routeOptions.url`). */
  route: string
  /** The plugin registration's id, for the diagnostics channels. */
  serverId: string
  remoteAddress: string
  log: FastifyBaseLogger
  host: ConnectionHost
  /** The route's heartbeat settings (one object per route). */
  heartbeat: HeartbeatSettings
  /** Answer app-level pings (`frws:ping`) on this plain route instead of delivering them. */
  appPing: boolean
  /** The route's backpressure and rate limits (one object per route). */
  limits: ConnectionLimits
  /** The route's `messages` schemas and codec; undefined: payloads pass as they are. */
  messages: ResolvedMessages | undefined
}

function noop (): void {}

/**
 * One open WebSocket, as the route handler sees it. Messages that arrive before the handler
 * attaches its first `message` listener are queued, never dropped (async handlers).
 */
export class WsConnection<Data extends object = Record<string, unknown>, T extends MessageTypes = UntypedMessages>
  extends EventEmitter<WsConnectionEvents<T>> {
  /** Unique id, also across nodes (a node prefix plus a counter). */
  readonly id: string
  /** The route path this connection came in on, e.g. `/ws` (with any prefix). */
  readonly route: string
  /** @internal The plugin registration's id, for the diagnostics channels (docs/METRICS.md). */
  readonly serverId: string
  /** The client address (`request.ip`, honours `trustProxy`). */
  readonly remoteAddress: string
  /** When the connection opened, in ms since the epoch. */
  readonly openedAt: number
  /** The request logger of the upgrade request. */
  readonly log: FastifyBaseLogger
  /** Application data attached to this connection (user id, etc.). */
  data: Data
  /** @internal */
  protected readonly host: ConnectionHost
  #transport: Transport
  #heartbeat: HeartbeatSlot | undefined
  readonly #heartbeatSettings: HeartbeatSettings
  readonly #appPing: boolean
  #rooms: Set<string> | undefined
  readonly #queue = new MessageQueue<[unknown, boolean]>()
  #flushScheduled = false
  #closeCause: CloseCause | undefined
  #localCloseCode: number | undefined
  #closed = false
  /** @internal Backpressure and rate limits of this connection. */
  protected readonly guard: ConnectionGuard
  /** @internal The route's schemas and codec (`messages` option), if any. */
  protected readonly messages: ResolvedMessages | undefined

  /** @internal */
  constructor (transport: Transport, init: ConnectionInit) {
    super({ captureRejections: true })
    this.id = init.id
    this.route = init.route
    this.serverId = init.serverId
    this.remoteAddress = init.remoteAddress
    this.openedAt = Date.now()
    this.log = init.log
    this.data = {} as Data
    this.host = init.host
    this.#heartbeatSettings = init.heartbeat
    this.#appPing = init.appPing
    this.guard = new ConnectionGuard(this, init.limits)
    this.messages = init.messages
    this.#transport = transport
    this.bindTransport(transport)
    ;(this as EventEmitter).on('newListener', onNewListener)
  }

  /** The underlying `ws` socket, for what this API does not cover. */
  get socket (): WebSocket {
    // The one place the connection names ws: an application reaching past the API gets the socket.
    return (this.#transport as { socket?: WebSocket }).socket as WebSocket
  }

  /** @internal What carries the connection's frames now (`lib/transport/`); a reliable session changes it on a resume. */
  get transport (): Transport {
    return this.#transport
  }

  /** True while the socket is open (not yet closing). */
  get isOpen (): boolean {
    return this.#transport.readyState === 1
  }

  /**
   * True while a `send()` can still reach the client: the socket is open. A reliable session also
   * accepts messages while suspended (they are replayed on resume). `broadcast()` uses it.
   */
  get acceptsMessages (): boolean {
    return this.isOpen
  }

  /** Round trip of the last answered heartbeat ping, in ms; `undefined` before the first. */
  get lastRtt (): number | undefined {
    return this.#heartbeat?.lastRtt
  }

  /** @internal Make `transport` carry this connection: its incoming side, the heartbeat. */
  protected bindTransport (transport: Transport): void {
    this.#transport = transport
    transport.listen(this)
    if (isHeartbeatActive(this.#heartbeatSettings)) {
      this.#heartbeat = this.host.heartbeat.add(this, this.#heartbeatSettings)
    }
  }

  /** @internal HeartbeatPeer: a transport-level ping (ws: a prebuilt frame). */
  sendPing (): void {
    this.#transport.sendPing()
  }

  /** Destroy the socket at once, without a close handshake (the heartbeat passes `'timeout'`). */
  terminate (cause?: 'timeout'): void {
    if (cause === 'timeout') publishHeartbeatTimeout(this, 'pong')
    this.terminateWithCause(cause ?? 'server')
  }

  /** @internal HeartbeatPeer: no application message within `idleTimeout`. */
  closeIdle (): void {
    publishHeartbeatTimeout(this, 'idle')
    this.closeWithCause(CloseCode.IDLE_TIMEOUT, undefined, 'idle')
  }

  /** @internal A non-application frame arrived (pong, ack, app-level ping): proof of life only. */
  protected touch (): void {
    this.#heartbeat?.touch()
  }

  /** @internal An application message arrived: proof of life, and it restarts the idle timeout. */
  protected touchMessage (): void {
    this.#heartbeat?.touchMessage()
  }

  /** @internal Stop watching the current socket (it closed or is being replaced). */
  protected unwatchSocket (): void {
    if (this.#heartbeat !== undefined) {
      this.host.heartbeat.remove(this.#heartbeat)
      this.#heartbeat = undefined
    }
  }

  /** The rooms this connection is in. */
  get rooms (): ReadonlySet<string> {
    return this.#rooms ?? EMPTY_ROOMS
  }

  /** Join a room: `fastify.wsConnections.broadcast(data, { room })` then reaches this connection. */
  join (room: string): void {
    this.#rooms ??= new Set()
    if (this.#closed || this.#rooms.has(room)) return
    this.#rooms.add(room)
    this.host.roomChanged(this as WsConnection<object>, room, true)
  }

  /** Leave a room. */
  leave (room: string): void {
    if (this.#rooms?.delete(room) === true) this.host.roomChanged(this as WsConnection<object>, room, false)
  }

  /**
   * Send a message: strings as text frames, bytes as binary frames. The message is handed to the
   * socket at once. The promise says when to send more: it resolves at once while the socket's
   * outbound buffer is below its high-water mark (16 KiB), and otherwise once the buffer has
   * drained into the kernel. It does not mean the client received the message. It rejects with
   * FRWS_ERR_CONNECTION_CLOSED when the connection is not open or closes first, and with
   * FRWS_ERR_SLOW_CONSUMER when the buffer passes `maxBufferedBytes` or does not drain within
   * `drainTimeout` (the connection is then closed with 4420). Ignoring the promise is safe: a
   * rejection is never unhandled, and a sender that ignores it cannot buffer past the cap.
   */
  send (data: T['send']): Promise<void> {
    if (this.#transport.readyState !== 1) return closedRejection(this.id)
    if (this.messages === undefined) return this.sendEncoded(data as WsOutgoing)
    const encoded = encodeOutgoing(this.messages.codec, this.messages.fromServer, data)
    return encoded.ok ? this.sendEncoded(encoded.value) : this.outgoingRejection(encoded.problem)
  }

  /**
   * @internal Send a payload that already went through the route's codec (or needs none):
   * `broadcast()` encodes a typed message once for all its targets.
   */
  sendEncoded (data: WsOutgoing): Promise<void> {
    const transport = this.#transport
    if (transport.readyState !== 1) return closedRejection(this.id)
    const before = transport.send(data)
    if (messageOut.hasSubscribers) publishMessageOut(this, data)
    return this.guard.sent(before)
  }

  /** @internal An outgoing value failed the route's schema or codec: log it, reject, send nothing. */
  protected outgoingRejection (problem: Problem): Promise<never> {
    const error = new FRWS_ERR_MESSAGE_INVALID('outgoing', describeProblem(problem))
    this.log.warn({ connectionId: this.id, path: problem.path }, 'websocket outgoing message failed its schema; not sent')
    const rejection = Promise.reject(error)
    rejection.catch(noop)
    return rejection
  }

  /** @internal Count an inbound frame against the rate limit; false: drop it (the connection is cut). */
  admit (bytes: number): boolean {
    return this.guard.admit(bytes)
  }

  /** Start the close handshake. The reason is cut to 123 bytes. */
  close (code: number = CloseCode.NORMAL, reason?: string): void {
    this.closeWithCause(code, reason, 'server')
  }

  /** @internal Close and remember why, for the `close` event and the log. */
  closeWithCause (code: number, reason: string | undefined, cause: CloseCause): void {
    this.#closeCause ??= cause
    this.#localCloseCode ??= code
    this.#transport.close(code, reason ?? (CloseReason as Record<number, string>)[code] ?? '')
  }

  /** @internal Terminate and remember why. */
  terminateWithCause (cause: CloseCause): void {
    this.#closeCause ??= cause
    this.#transport.terminate()
  }

  /** @internal A handler or listener failed: log through the request logger and close with 1011. */
  fail (error: unknown): void {
    this.log.error({ err: error, connectionId: this.id }, 'websocket handler failed')
    if (this.#transport.readyState <= 1) this.closeWithCause(CloseCode.INTERNAL_ERROR, undefined, 'error')
  }

  /** @internal A protocol pong: proof of life and a round-trip sample. */
  pongReceived (): void {
    if (this.#heartbeat?.pong() === true) publishHeartbeatRtt(this)
  }

  /** @internal A protocol ping from the peer of `bytes` payload bytes (ws has answered it): proof of life. */
  pingReceived (bytes: number): void {
    this.#heartbeat?.touch()
    // A peer that pings without reading fills the buffer with ws's pongs (2 header bytes each).
    this.guard.checkBuffered(this.#transport.bufferedAmount - bytes - 2)
  }

  /** @internal The transport reported a bad frame or an oversized message and has already started the close handshake with `sentCode` (1002, 1007, 1009). */
  socketError (error: Error & { code?: string }, sentCode: number): void {
    this.#closeCause ??= 'error'
    this.#localCloseCode ??= sentCode
    this.log.info({ err: error, connectionId: this.id }, 'websocket peer broke a protocol rule or limit')
    if (this.#transport.readyState === 1) this.closeWithCause(CloseCode.PROTOCOL_ERROR, undefined, 'error')
  }

  /** @internal The route handler returned or settled: messages nobody listens for are dropped from now on. */
  handlerSettled (): void {
    if (this.#queue.isOpen && this.listenerCount('message') === 0) {
      this.#queue.drop()
      this.resumeReading()
    }
  }

  /** @internal Resume reading the socket unless a queue waiting for its listener still holds it paused. */
  protected resumeReading (): void {
    if (this.#transport.isPaused && !this.readingHeldBack()) this.#transport.resume()
  }

  /** @internal True while input waiting for a listener has reached the queue's pause threshold. */
  protected readingHeldBack (): boolean {
    return this.#queue.isFull
  }

  /** @internal Called by the transport for each message it carries for this connection. */
  receive (message: WsMessage, isBinary: boolean): void {
    if (this.#appPing && !isBinary) {
      const token = parsePing(message as string)
      if (token !== undefined) {
        this.touch()
        const pong = encodePong(token)
        const before = this.#transport.send(pong)
        if (messageOut.hasSubscribers) publishMessageOut(this, pong)
        this.guard.checkBuffered(before)
        return
      }
    }
    this.touchMessage()
    if (this.messages === undefined) {
      this.deliverOrQueue(message, isBinary)
      return
    }
    // Frames after an invalid one (the socket is closing) are not delivered.
    if (this.#transport.readyState !== 1) return
    const checked = decodeIncoming(this.messages.codec, this.messages.fromClient, message)
    if (checked.ok) {
      this.deliverOrQueue(checked.value, isBinary)
    } else if (checked.async === true) {
      this.fail(new FRWS_ERR_MESSAGE_INVALID('incoming', describeProblem(checked.problem)))
    } else {
      // A plain route has no way to answer one message: the peer broke the route's contract (RFC 6455 7.4.1, 1007).
      this.log.info({ connectionId: this.id, path: checked.problem.path }, 'websocket incoming message failed its schema')
      this.closeWithCause(CloseCode.INVALID_PAYLOAD, `invalid message ${describeProblem(checked.problem)}`, 'error')
    }
  }

  /** @internal Hand a message to the application, or queue it until a `message` listener exists. */
  protected deliverOrQueue (message: unknown, isBinary: boolean): void {
    if (this.#queue.isOpen) {
      if (this.#queue.push([message, isBinary])) this.#transport.pause()
      return
    }
    this.deliver(message, isBinary)
  }

  /** @internal */
  scheduleFlush (): void {
    if (this.#flushScheduled || !this.#queue.isOpen) return
    this.#flushScheduled = true
    queueMicrotask(() => {
      for (const [message, isBinary] of this.#queue.take()) this.deliver(message, isBinary)
      this.resumeReading()
    })
  }

  /** @internal The current socket closed: stop watching it, then end the connection. */
  socketClosed (code: number, reasonBytes: Buffer): void {
    this.unwatchSocket()
    const { cause, code: sentCode } = this.takeLocalClose()
    const reported = reportedCloseCode(code, cause, sentCode)
    const reason = reasonBytes.toString()
    publishConnectionClose(this, false, reported, reason, cause ?? 'client')
    this.end(reported, reason, cause ?? 'client')
  }

  /**
   * @internal Why the current socket is closing, as recorded by the server side: the cause and the
   * code the server sent (undefined when the peer closed first). Cleared for the next socket.
   */
  protected takeLocalClose (): { cause: CloseCause | undefined, code: number | undefined } {
    const taken = { cause: this.#closeCause, code: this.#localCloseCode }
    this.#closeCause = undefined
    this.#localCloseCode = undefined
    return taken
  }

  /** @internal True once the connection has ended (the `close` event was emitted). */
  get isEnded (): boolean {
    return this.#closed
  }

  /** @internal The connection is over: leave the registry, log, tell the application. Runs once. */
  protected end (code: number, reason: string, cause: CloseCause): void {
    if (this.#closed) return
    this.#closed = true
    this.#queue.drop()
    this.guard.ended(code)
    this.host.connectionClosed(this as WsConnection<object>)
    const info: CloseInfo = { code, reason, cause }
    const fields = { connectionId: this.id, code, reason: info.reason, cause: info.cause }
    if (isAbnormalCloseCode(code) || info.cause === 'timeout' || info.cause === 'error') {
      this.log.warn(fields, 'websocket closed abnormally')
    } else {
      this.log.debug(fields, 'websocket closed')
    }
    try {
      this.emit('close', info)
    } catch (error) {
      this.log.error({ err: error, connectionId: this.id }, 'websocket close listener failed')
    }
  }

  private deliver (message: unknown, isBinary: boolean): void {
    try {
      (this as EventEmitter).emit('message', message, isBinary)
    } catch (error) {
      this.fail(error)
    }
  }

  /** Async listeners that reject land here (EventEmitter `captureRejections`). */
  override [EventEmitter.captureRejectionSymbol]<K> (
    error: Error, _event: keyof WsConnectionEvents<T> | K, ..._args: K extends keyof WsConnectionEvents<T> ? WsConnectionEvents<T>[K] : never
  ): void {
    this.fail(error)
  }
}

const EMPTY_ROOMS: ReadonlySet<string> = new Set()

/**
 * The code a `close` event reports: what the socket saw, except after a protocol error, where ws
 * stops reading once it has sent its close frame and would only ever see 1006.
 */
export function reportedCloseCode (code: number, cause: CloseCause | undefined, sentCode: number | undefined): number {
  return code === CloseCode.ABNORMAL && cause === 'error' && sentCode !== undefined ? sentCode : code
}

function closedRejection (id: string): Promise<void> {
  const rejection = Promise.reject(new FRWS_ERR_CONNECTION_CLOSED(id))
  rejection.catch(noop)
  return rejection
}

function onNewListener (this: WsConnection<object>, event: string | symbol): void {
  if (event === 'message') this.scheduleFlush()
}
