/**
 * @internal The `ws` listeners every connection shares: one set of functions for all sockets, each
 * finding its connection through a symbol on the socket, so a connection costs no closures.
 */
import type { RawData, WebSocket } from 'ws'
import { CloseCode } from './protocol/close-codes.js'
import { messageIn, publishMessageIn } from './metrics/publish.js'
import type { MetricsSubject } from './metrics/publish.js'

/** @internal What the shared listeners call on the connection that owns a socket. */
export interface SocketOwner extends MetricsSubject {
  /** The socket currently carrying the connection; events of any other socket are ignored. */
  readonly socket: WebSocket
  /** Count an inbound frame of `bytes` against the rate limit; false: drop it (the connection is cut). */
  admit (bytes: number): boolean
  /** A message of the current socket. */
  receive (data: RawData, isBinary: boolean): void
  /** The current socket closed. */
  socketClosed (code: number, reasonBytes: Buffer): void
  /** A protocol pong arrived. */
  pongReceived (): void
  /** A protocol ping of `bytes` payload bytes arrived (ws has answered it). */
  pingReceived (bytes: number): void
  /** ws reported a receiver error and has started the close handshake itself. */
  socketError (error: Error & { code?: string }): void
}

const kOwner = Symbol('fastify-reliable-ws.connection')

type OwnedSocket = WebSocket & { [kOwner]: SocketOwner }

/** The close code ws sends for each of its receiver errors (it sends it itself, before the error event). */
const WS_ERROR_CLOSE_CODES: Record<string, number> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CloseCode.MESSAGE_TOO_BIG,
  // A 64-bit frame length above 2^53 - 1.
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: CloseCode.MESSAGE_TOO_BIG,
  WS_ERR_INVALID_UTF8: CloseCode.INVALID_PAYLOAD,
  // More fragments in one message than ws's maxFragments (16,384).
  WS_ERR_TOO_MANY_BUFFERED_PARTS: CloseCode.POLICY_VIOLATION
}

/** @internal The close code ws sent for one of its receiver errors (1002 for any it does not name). */
export function closeCodeOfWsError (error: Error & { code?: string }): number {
  return WS_ERROR_CLOSE_CODES[error.code ?? ''] ?? CloseCode.PROTOCOL_ERROR
}

/**
 * @internal Route `socket`'s events to `owner` through the shared listeners. Replaces the error
 * listener of @fastify/websocket, which terminates the socket; ours lets ws finish its close
 * handshake (e.g. 1009).
 */
export function listenToSocket (socket: WebSocket, owner: SocketOwner): void {
  (socket as OwnedSocket)[kOwner] = owner
  socket.on('message', onSocketMessage)
  socket.on('close', onSocketClose)
  socket.on('pong', onSocketPong)
  socket.on('ping', onSocketPing)
  socket.removeAllListeners('error')
  socket.on('error', onSocketError)
}

/** Payload bytes of a received message, whatever shape ws delivered it in. */
function byteLengthOf (data: RawData): number {
  if (Array.isArray(data)) {
    let total = 0
    for (const chunk of data) total += chunk.length
    return total
  }
  return data.byteLength
}

// A connection may outlive a socket (reliable mode moves it to a new one): events of a replaced socket are ignored.
function onSocketMessage (this: WebSocket, data: RawData, isBinary: boolean): void {
  const owner = (this as OwnedSocket)[kOwner]
  if (owner.socket !== this) return
  const bytes = byteLengthOf(data)
  if (!owner.admit(bytes)) return
  if (messageIn.hasSubscribers) publishMessageIn(owner, bytes)
  owner.receive(data, isBinary)
}

function onSocketClose (this: WebSocket, code: number, reason: Buffer): void {
  const owner = (this as OwnedSocket)[kOwner]
  if (owner.socket === this) owner.socketClosed(code, reason)
}

function onSocketPong (this: WebSocket, data: Buffer): void {
  const owner = (this as OwnedSocket)[kOwner]
  if (owner.socket === this && owner.admit(data.length)) owner.pongReceived()
}

function onSocketPing (this: WebSocket, data: Buffer): void {
  const owner = (this as OwnedSocket)[kOwner]
  if (owner.socket === this && owner.admit(data.length)) owner.pingReceived(data.length)
}

function onSocketError (this: WebSocket, error: Error & { code?: string }): void {
  const owner = (this as OwnedSocket)[kOwner]
  if (owner.socket === this) owner.socketError(error)
}
