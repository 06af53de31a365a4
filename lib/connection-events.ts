/**
 * The public types of a connection's traffic: what its events carry, what `send()` accepts, how a
 * request is answered and why a connection ended. Shared by the plain and the reliable connection.
 */
import type { InvalidMessage, MessageTypes } from './messages/types.js'

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
  /** reliable mode: the session waited `sessionTimeout` for a reconnect in vain */
  | 'expired'
  /** reliable mode: the session was resumed on another node */
  | 'replaced'
  /** reliable mode: the memory budget ended the session to make room (close code 4507) */
  | 'shed'

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

/** Answer to an incoming request (reliable routes): a payload, or an Error whose message is sent as the failure reason. */
export type Respond<Response = WsOutgoing> = (response: Response | Error) => void

/** The payload types of a route without `messages`: bytes and strings as they travel. */
export interface UntypedMessages extends MessageTypes {
  message: WsMessage
  send: WsOutgoing
  request: WsMessage
  respond: WsOutgoing
  requestOut: WsOutgoing
  response: WsMessage
}

/** Events of a connection; `T` types the payloads of a route with `messages`. */
export interface WsConnectionEvents<T extends MessageTypes = UntypedMessages> {
  /** A message from the client (text as a string, binary as a Buffer; on a route with `messages`, the validated value). */
  message: [data: T['message'], isBinary: boolean]
  /** The connection ended; on reliable routes, the session ended. */
  close: [info: CloseInfo]
  /** Reliable routes: the client sent a request; call `respond` once. */
  request: [data: T['request'], isBinary: boolean, respond: Respond<T['respond']>]
  /** Reliable routes with `messages`: a message, request or response failed its schema; it was acknowledged and never replayed. */
  invalid: [info: InvalidMessage]
  /** Reliable routes: the socket dropped, the session waits `sessionTimeout` for the client to resume. */
  suspend: [info: CloseInfo]
  /** Reliable routes: the client resumed the session on a new socket; nothing was lost. */
  resume: []
}
