import { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { CloseCode, CloseReason, isAbnormalCloseCode, truncateCloseReason } from './protocol/close-codes.js'
import { FRWS_ERR_CONNECTION_CLOSED } from './errors.js'

/** Why a connection ended, as seen by the server. */
export type CloseCause =
  /** the peer sent a close frame or dropped the TCP connection */
  | 'client'
  /** the application called `close()` or `terminate()` */
  | 'server'
  /** `fastify.close()` is shutting the server down */
  | 'shutdown'
  /** the heartbeat found the peer silent */
  | 'timeout'
  /** no application message arrived within `idleTimeout` */
  | 'idle'
  /** a handler threw, or the peer broke the protocol or a limit */
  | 'error'

/** What the `close` event carries. */
export interface CloseInfo {
  /** The close code (1006 when the TCP connection dropped without a close frame). */
  code: number
  /** The close reason, possibly empty. */
  reason: string
  /** Why the connection ended. */
  cause: CloseCause
}

/** A received message: text frames arrive as strings, binary frames as Buffers. */
export type WsMessage = string | Buffer

/** Data that `send()` accepts: a string goes out as a text frame, bytes as a binary frame. */
export type WsOutgoing = string | Buffer | ArrayBuffer | ArrayBufferView

/** Events of a connection. */
export interface WsConnectionEvents {
  message: [data: WsMessage, isBinary: boolean]
  close: [info: CloseInfo]
}

/** What a connection needs from the plugin that owns it. */
export interface ConnectionHost {
  /** Called once when the socket has closed, so the host can forget the connection. */
  connectionClosed (connection: WsConnection<object>): void
  /** Called when the connection joins or leaves a room. */
  roomChanged (connection: WsConnection<object>, room: string, joined: boolean): void
}

/** Above this many messages waiting for a listener, the socket stops reading (backpressure). */
const PENDING_PAUSE_THRESHOLD = 256

const RESOLVED: Promise<void> = Promise.resolve()
const kConnection = Symbol('fastify-reliable-ws.connection')

type SocketWithConnection = WebSocket & { [kConnection]: WsConnection<object> }

function noop (): void {}

/**
 * One open WebSocket, as the route handler sees it. Messages that arrive before the handler
 * attaches its first `message` listener are queued, never dropped (async handlers).
 */
export class WsConnection<Data extends object = Record<string, unknown>> extends EventEmitter<WsConnectionEvents> {
  /** Unique id, also across nodes (a node prefix plus a counter). */
  readonly id: string
  /** The underlying `ws` socket, for what this API does not cover. */
  readonly socket: WebSocket
  /** The client address (`request.ip`, honours `trustProxy`). */
  readonly remoteAddress: string
  /** When the connection opened, in ms since the epoch. */
  readonly openedAt: number
  /** The request logger of the upgrade request. */
  readonly log: FastifyBaseLogger
  /** Application data attached to this connection (user id, etc.). */
  data: Data
  #host: ConnectionHost
  #rooms: Set<string> | undefined
  #pending: Array<[WsMessage, boolean]> | null = []
  #flushScheduled = false
  #closeCause: CloseCause | undefined
  #closed = false

  constructor (socket: WebSocket, id: string, remoteAddress: string, log: FastifyBaseLogger, host: ConnectionHost) {
    super({ captureRejections: true })
    this.id = id
    this.socket = socket
    this.remoteAddress = remoteAddress
    this.openedAt = Date.now()
    this.log = log
    this.data = {} as Data
    this.#host = host
    ;(socket as SocketWithConnection)[kConnection] = this as WsConnection<object>
    // Listeners are shared functions that find the connection through the socket: no closures per connection.
    socket.on('message', onSocketMessage)
    socket.on('close', onSocketClose)
    // @fastify/websocket's error listener terminates the socket; ours lets ws finish its close handshake (e.g. 1009).
    socket.removeAllListeners('error')
    socket.on('error', onSocketError)
    ;(this as EventEmitter).on('newListener', onNewListener)
  }

  /** True until the close handshake starts. */
  get isOpen (): boolean {
    return this.socket.readyState === 1
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
    this.#host.roomChanged(this as WsConnection<object>, room, true)
  }

  /** Leave a room. */
  leave (room: string): void {
    if (this.#rooms?.delete(room) === true) this.#host.roomChanged(this as WsConnection<object>, room, false)
  }

  /**
   * Send a message: strings as text frames, bytes as binary frames. The promise resolves once the
   * message is handed to the socket and rejects with FRWS_ERR_CONNECTION_CLOSED when the connection
   * is no longer open. Ignoring the promise is safe: a rejection is never unhandled.
   */
  send (data: WsOutgoing): Promise<void> {
    if (this.socket.readyState !== 1) return closedRejection(this.id)
    this.socket.send(data)
    return RESOLVED
  }

  /** Start the close handshake. The reason is cut to 123 bytes. */
  close (code: number = CloseCode.NORMAL, reason?: string): void {
    this.closeWithCause(code, reason, 'server')
  }

  /** Destroy the socket at once, without a close handshake. */
  terminate (): void {
    this.terminateWithCause('server')
  }

  /** @internal Close and remember why, for the `close` event and the log. */
  closeWithCause (code: number, reason: string | undefined, cause: CloseCause): void {
    this.#closeCause ??= cause
    const text = reason ?? (CloseReason as Record<number, string>)[code] ?? ''
    this.socket.close(code, truncateCloseReason(text))
  }

  /** @internal Terminate and remember why. */
  terminateWithCause (cause: CloseCause): void {
    this.#closeCause ??= cause
    this.socket.terminate()
  }

  /** @internal A handler or listener failed: log through the request logger and close with 1011. */
  fail (error: unknown): void {
    this.log.error({ err: error, connectionId: this.id }, 'websocket handler failed')
    if (this.socket.readyState <= 1) this.closeWithCause(CloseCode.INTERNAL_ERROR, undefined, 'error')
  }

  /** @internal ws reported a bad frame or an oversized message and has already started the close handshake with the right code (1002, 1007, 1009). */
  socketError (error: Error): void {
    this.#closeCause ??= 'error'
    this.log.info({ err: error, connectionId: this.id }, 'websocket peer broke a protocol rule or limit')
    if (this.socket.readyState === 1) this.closeWithCause(CloseCode.PROTOCOL_ERROR, undefined, 'error')
  }

  /** @internal The route handler returned or settled: messages nobody listens for are dropped from now on. */
  handlerSettled (): void {
    if (this.#pending !== null && this.listenerCount('message') === 0) {
      this.#pending = null
      if (this.socket.isPaused) this.socket.resume()
    }
  }

  /** @internal Called by the shared socket listener for each message. */
  receive (data: RawData, isBinary: boolean): void {
    const message: WsMessage = isBinary ? toBuffer(data) : data.toString()
    if (this.#pending !== null) {
      this.#pending.push([message, isBinary])
      if (this.#pending.length === PENDING_PAUSE_THRESHOLD) this.socket.pause()
      return
    }
    this.deliver(message, isBinary)
  }

  /** @internal */
  scheduleFlush (): void {
    if (this.#flushScheduled || this.#pending === null) return
    this.#flushScheduled = true
    queueMicrotask(() => {
      const pending = this.#pending ?? []
      this.#pending = null
      for (const [message, isBinary] of pending) this.deliver(message, isBinary)
      if (this.socket.isPaused) this.socket.resume()
    })
  }

  /** @internal The socket closed: leave the registry, log, tell the application. */
  socketClosed (code: number, reasonBytes: Buffer): void {
    if (this.#closed) return
    this.#closed = true
    this.#pending = null
    this.#host.connectionClosed(this as WsConnection<object>)
    const info: CloseInfo = { code, reason: reasonBytes.toString(), cause: this.#closeCause ?? 'client' }
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

  private deliver (message: WsMessage, isBinary: boolean): void {
    try {
      this.emit('message', message, isBinary)
    } catch (error) {
      this.fail(error)
    }
  }

  /** Async listeners that reject land here (EventEmitter `captureRejections`). */
  override [EventEmitter.captureRejectionSymbol]<K> (
    error: Error, _event: keyof WsConnectionEvents | K, ..._args: K extends keyof WsConnectionEvents ? WsConnectionEvents[K] : never
  ): void {
    this.fail(error)
  }
}

const EMPTY_ROOMS: ReadonlySet<string> = new Set()

function toBuffer (data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}

function closedRejection (id: string): Promise<void> {
  const rejection = Promise.reject(new FRWS_ERR_CONNECTION_CLOSED(id))
  rejection.catch(noop)
  return rejection
}

function onSocketMessage (this: WebSocket, data: RawData, isBinary: boolean): void {
  (this as SocketWithConnection)[kConnection].receive(data, isBinary)
}

function onSocketClose (this: WebSocket, code: number, reason: Buffer): void {
  (this as SocketWithConnection)[kConnection].socketClosed(code, reason)
}

function onSocketError (this: WebSocket, error: Error & { code?: string }): void {
  (this as SocketWithConnection)[kConnection].socketError(error)
}

function onNewListener (this: WsConnection<object>, event: string | symbol): void {
  if (event === 'message') this.scheduleFlush()
}
