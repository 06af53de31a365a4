/**
 * The events of `ReliableClient` and their payloads (docs/CLIENT.md, "Events").
 */
import type { ReliableClientError } from './client-errors.js'
import type { CloseInfo, UntypedClientMessages } from './client-options.js'
import type { InvalidMessage, MessageTypes } from '../messages/types.js'

/** The state of a client. */
export type ClientState =
  /** Before the first session is established (including retries of the first connection). */
  | 'connecting'
  /** Handshake done: messages flow. */
  | 'open'
  /** The connection was lost after a session was established; waiting to reconnect, or reconnecting. */
  | 'reconnecting'
  /** The server closed with 4000 (idle timeout); the next `send()` or `request()` reconnects. */
  | 'idle'
  /** Final: the application closed the client, or the client gave up. */
  | 'closed'

/** Payload of `open`: the first session is established. */
export interface OpenEvent {
  sessionId: string
}

/** Payload of `resumed`: a reconnect completed its handshake. */
export interface ResumedEvent {
  /** True when the session continued: nothing was lost or duplicated. False: see `continuityLost`. */
  continuity: boolean
  /** The session id now in use (a new one when continuity is false). */
  sessionId: string
}

/** Payload of `continuityLost`: the server could not resume the session (expired, unknown, reset). */
export interface ContinuityLostEvent {
  /** The session that is gone. */
  previousSessionId: string
  /** The new session. */
  sessionId: string
  /**
   * Messages (sends, requests, answers) the client had transmitted without an acknowledgement;
   * each may or may not have reached the server. Their `send()` and `request()` promises reject
   * with `FRWS_ERR_CLIENT_CONTINUITY_LOST`. Messages from the server may have been lost as well.
   */
  lost: number
}

/** Payload of `reconnecting`: a reconnect is scheduled. */
export interface ReconnectingEvent {
  /** 1 for the first attempt after a connection was lost, 2, 3, ... while attempts keep failing. */
  attempt: number
  /** Delay before the attempt, in ms. */
  delay: number
  /** Why the previous connection (or connection attempt) ended. */
  closeInfo: CloseInfo
}

/** Payload of `close`: one WebSocket connection closed. */
export interface ClientCloseEvent extends CloseInfo {
  /** True when a reconnect follows (a `reconnecting` event comes next). */
  willReconnect: boolean
}

/** Payload of `end`: the client stopped for good (state `closed`). */
export interface EndEvent extends CloseInfo {
  /** Why it gave up (`FRWS_ERR_CLIENT_GAVE_UP`); `undefined` when the application called `close()`. */
  error: ReliableClientError | undefined
}

/** The events of `ReliableClient`: name to listener arguments; `T` types the payloads of a client with `messages`. */
export type ClientEvents<T extends MessageTypes = UntypedClientMessages> = {
  open: [event: OpenEvent]
  resumed: [event: ResumedEvent]
  continuityLost: [event: ContinuityLostEvent]
  message: [data: T['message'], isBinary: boolean]
  /** With `messages`: a message, request or response from the server failed its schema; it was acknowledged, not delivered. */
  invalid: [info: InvalidMessage]
  reconnecting: [event: ReconnectingEvent]
  close: [event: ClientCloseEvent]
  error: [error: ReliableClientError]
  end: [event: EndEvent]
}
