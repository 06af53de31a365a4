/**
 * @internal The `ws` listeners every connection shares: one set of functions for all sockets, each
 * finding its connection through a symbol on the socket, so a connection costs no closures.
 */
import type { RawData, WebSocket } from 'ws'
import { CloseCode } from '../protocol/close-codes.js'
import { messageIn, publishMessageIn } from '../metrics/publish.js'
import type { TransportOwner } from './transport.js'

const kOwner = Symbol('fastify-reliable-ws.connection')

type OwnedSocket = WebSocket & { [kOwner]: TransportOwner }

/** The close code ws sends for each of its receiver errors (it sends it itself, before the error event). */
const WS_ERROR_CLOSE_CODES: Record<string, number> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CloseCode.MESSAGE_TOO_BIG,
  // A 64-bit frame length above 2^53 - 1.
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: CloseCode.MESSAGE_TOO_BIG,
  WS_ERR_INVALID_UTF8: CloseCode.INVALID_PAYLOAD,
  // More fragments in one message than ws's maxFragments (16,384).
  WS_ERR_TOO_MANY_BUFFERED_PARTS: CloseCode.POLICY_VIOLATION
}

/** The close code ws sent for one of its receiver errors (1002 for any it does not name). */
function closeCodeOfWsError (error: Error & { code?: string }): number {
  return WS_ERROR_CLOSE_CODES[error.code ?? ''] ?? CloseCode.PROTOCOL_ERROR
}

/**
 * @internal Route `socket`'s events to `owner` through the shared listeners. Replaces the error
 * listener of @fastify/websocket, which terminates the socket; ours lets ws finish its close
 * handshake (e.g. 1009).
 */
export function listenToSocket (socket: WebSocket, owner: TransportOwner): void {
  (socket as OwnedSocket)[kOwner] = owner
  socket.on('message', onSocketMessage)
  socket.on('close', onSocketClose)
  socket.on('pong', onSocketPong)
  socket.on('ping', onSocketPing)
  socket.removeAllListeners('error')
  socket.on('error', onSocketError)
}

/** A binary message as one Buffer, whatever shape ws delivered it in (a Buffer with the default `binaryType`). */
function toBuffer (data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
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

/**
 * True while `socket` carries `owner`. A connection may outlive a socket (reliable mode moves it to
 * a new transport, of any kind): events of a replaced socket are ignored.
 */
function carries (owner: TransportOwner, socket: WebSocket): boolean {
  return (owner.transport as { socket?: WebSocket }).socket === socket
}

function onSocketMessage (this: WebSocket, data: RawData, isBinary: boolean): void {
  const owner = (this as OwnedSocket)[kOwner]
  if (!carries(owner, this)) return
  const bytes = byteLengthOf(data)
  if (!owner.admit(bytes)) return
  if (messageIn.hasSubscribers) publishMessageIn(owner, bytes)
  owner.receive(isBinary ? toBuffer(data) : data.toString(), isBinary)
}

function onSocketClose (this: WebSocket, code: number, reason: Buffer): void {
  const owner = (this as OwnedSocket)[kOwner]
  if (carries(owner, this)) owner.socketClosed(code, reason)
}

function onSocketPong (this: WebSocket, data: Buffer): void {
  const owner = (this as OwnedSocket)[kOwner]
  if (carries(owner, this) && owner.admit(data.length)) owner.pongReceived()
}

function onSocketPing (this: WebSocket, data: Buffer): void {
  const owner = (this as OwnedSocket)[kOwner]
  if (carries(owner, this) && owner.admit(data.length)) owner.pingReceived(data.length)
}

function onSocketError (this: WebSocket, error: Error & { code?: string }): void {
  const owner = (this as OwnedSocket)[kOwner]
  if (carries(owner, this)) owner.socketError(error, closeCodeOfWsError(error))
}
