/**
 * The coded errors of the client. Browser-safe: no `@fastify/error` (it needs Node's `util`).
 * docs/CLIENT.md, "Errors", documents each code.
 */

/** Every `code` a {@link ReliableClientError} can carry. */
export const ClientErrorCode = {
  /** No WebSocket implementation: pass the option `WebSocket` (on Node 20, `ws`'s `WebSocket`). */
  NO_WEBSOCKET: 'FRWS_ERR_CLIENT_NO_WEBSOCKET',
  /** A client option has a value the client cannot accept; thrown by the constructor. */
  INVALID_OPTION: 'FRWS_ERR_CLIENT_INVALID_OPTION',
  /** An argument of `send()`, `request()` or `close()` has the wrong type or value. */
  INVALID_ARGUMENT: 'FRWS_ERR_CLIENT_INVALID_ARGUMENT',
  /** The application closed the client; pending and later operations fail with this. */
  CLOSED: 'FRWS_ERR_CLIENT_CLOSED',
  /** The client stopped reconnecting (close-code policy, `shouldRetry`, `maxAttempts`, or a fatal error). */
  GAVE_UP: 'FRWS_ERR_CLIENT_GAVE_UP',
  /** The `timeout` of a `send()` passed before the server acknowledged it; the message may still arrive. */
  ACK_TIMEOUT: 'FRWS_ERR_CLIENT_ACK_TIMEOUT',
  /** The `timeout` of a `request()` passed before the response arrived. */
  REQUEST_TIMEOUT: 'FRWS_ERR_CLIENT_REQUEST_TIMEOUT',
  /** The server answered a `request()` with an error response; the message is its reason. */
  REQUEST_FAILED: 'FRWS_ERR_CLIENT_REQUEST_FAILED',
  /** The session could not be resumed: this message was transmitted but not acknowledged, and may be lost. */
  CONTINUITY_LOST: 'FRWS_ERR_CLIENT_CONTINUITY_LOST',
  /** The message does not fit in the unacknowledged buffer (`maxUnacked`, `maxUnackedBytes`); it was not sent. */
  BUFFER_FULL: 'FRWS_ERR_CLIENT_BUFFER_FULL',
  /** The frame would exceed the server's `maxPayload`; it was not sent. */
  MESSAGE_TOO_BIG: 'FRWS_ERR_CLIENT_MESSAGE_TOO_BIG',
  /** The server broke the protocol; the client closed the connection (`error` event). */
  PROTOCOL: 'FRWS_ERR_CLIENT_PROTOCOL',
  /** The WebSocket reported an error, or the `url` function failed (`error` event). */
  CONNECTION: 'FRWS_ERR_CLIENT_CONNECTION',
  /** The server selected no `frws` subprotocol: the URL is a plain route (or one that speaks no version this client knows). */
  NOT_RELIABLE_ROUTE: 'FRWS_ERR_CLIENT_NOT_RELIABLE_ROUTE',
  /** With `messages`: a value to send failed its schema or codec (not sent), or a response failed its schema. */
  INVALID_MESSAGE: 'FRWS_ERR_CLIENT_INVALID_MESSAGE'
} as const

/** One of the values of {@link ClientErrorCode}. */
export type ClientErrorCodeValue = (typeof ClientErrorCode)[keyof typeof ClientErrorCode]

/** Options of {@link ReliableClientError}. */
export interface ReliableClientErrorOptions {
  /** The underlying error, e.g. the `ProtocolError` for {@link ClientErrorCode.PROTOCOL}. */
  cause?: unknown
  /** The close code behind the error, for {@link ClientErrorCode.GAVE_UP} and {@link ClientErrorCode.PROTOCOL}. */
  closeCode?: number
}

/** An error of the client; `code` is stable, the message is for humans. */
export class ReliableClientError extends Error {
  /** A stable `FRWS_ERR_CLIENT_*` code. */
  readonly code: ClientErrorCodeValue
  /** The close code behind the error, when there is one. */
  readonly closeCode: number | undefined

  constructor (code: ClientErrorCodeValue, message: string, options: ReliableClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ReliableClientError'
    this.code = code
    this.closeCode = options.closeCode
  }
}
