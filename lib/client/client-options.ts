/**
 * Options of the reliable-mode client, their defaults and their checks.
 */
import {
  DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_UNACKED, DEFAULT_MAX_UNACKED_BYTES
} from '../protocol/defaults.js'
import type { ClearTimer, SetTimer } from '../protocol/ack-scheduler.js'
import { CloseCode } from '../protocol/close-codes.js'
import { ClientErrorCode, ReliableClientError } from './client-errors.js'
import type { ClientMessageTypes, MessageSchemas, MessageTypes } from '../messages/types.js'
import { resolveMessages, type ResolvedMessages } from '../messages/validate.js'
import type { OutgoingData } from './outgoing-data.js'

/** The part of the WHATWG `WebSocket` the client uses; the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  /** The subprotocol the server selected (`''` for none); a reliable route selects `frws.v<N>`. */
  readonly protocol?: string
  send (data: string | Uint8Array): void
  close (code?: number, reason?: string): void
  addEventListener (type: 'message', listener: (event: { data: unknown }) => void): void
  addEventListener (type: 'close', listener: (event: { code: number, reason: string }) => void): void
  addEventListener (type: 'open' | 'error', listener: (event: unknown) => void): void
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `WebSocket` from the `ws` package. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

/** Why a connection closed. */
export interface CloseInfo {
  /** The close code: the server's, the client's own (4408, 4400, ...), or 1006 when the connection dropped. */
  code: number
  /** The close reason, `''` when there is none. */
  reason: string
}

/** What an incoming request handler may answer. */
export type ResponseData = string | Uint8Array | ArrayBuffer

/** The payload types of a client without `messages`: strings and bytes as they travel. */
export interface UntypedClientMessages extends MessageTypes {
  message: string | Uint8Array
  send: OutgoingData
  request: string | Uint8Array
  respond: ResponseData
  requestOut: OutgoingData
  response: string | Uint8Array
}

/** The payload types of a client created with the schemas `M` (or none). */
export type ClientTypesOf<M extends MessageSchemas | undefined> = M extends MessageSchemas ? ClientMessageTypes<M> : UntypedClientMessages

/** Answers a request from the server: returns (or resolves to) the response; a throw or rejection sends an error response. */
export type RequestHandler<T extends MessageTypes = UntypedClientMessages> = (data: T['request']) => T['respond'] | Promise<T['respond']>

/** The server's URL, or a function that gives it before every connection (e.g. with a fresh token). */
export type UrlSource = string | URL | (() => string | URL | Promise<string | URL>)

/** Options of `ReliableClient`; `M` is the type of the `messages` option. */
export interface ReliableClientOptions<M extends MessageSchemas | undefined = undefined> {
  /**
   * The WebSocket constructor. On Node 20 pass `WebSocket` from the `ws` package.
   * @default globalThis.WebSocket
   */
  WebSocket?: WebSocketConstructor
  /**
   * Time to wait from opening a socket for the server's welcome, in ms; then the client closes
   * with 4408 and reconnects.
   * @default 10000
   */
  handshakeTimeout?: number
  /**
   * Ceiling of the first reconnect delay, in ms; the ceiling doubles per failed attempt.
   * @default 500
   */
  baseDelay?: number
  /**
   * Cap of the reconnect delay, in ms.
   * @default 30000
   */
  maxDelay?: number
  /**
   * Reconnect attempts in a row without a successful handshake before the client gives up; 0
   * never reconnects.
   * @default Infinity
   */
  maxAttempts?: number
  /**
   * Asked before each reconnect the close-code policy allows (and after 4401); return false to
   * give up. The default reconnects after everything except 4401.
   * @default (info) => info.code !== 4401
   */
  shouldRetry?: (info: CloseInfo) => boolean
  /**
   * Most messages the client holds unacknowledged or queued while offline; a `send()` beyond it
   * rejects with `FRWS_ERR_CLIENT_BUFFER_FULL`.
   * @default 4096
   */
  maxUnacked?: number
  /**
   * Most bytes of frames the client holds unacknowledged or queued; an empty buffer takes one
   * message of any size up to the server's `maxPayload`.
   * @default 1048576
   */
  maxUnackedBytes?: number
  /**
   * Default `timeout` of `request()`, in ms; `Infinity` waits forever.
   * @default 30000
   */
  requestTimeout?: number
  /**
   * Answers the server's requests: return (or resolve to) the response; a throw or rejection sends
   * an error response with the error's message. Without it every request gets an error response.
   */
  onRequest?: RequestHandler<ClientTypesOf<M>>
  /**
   * Typed messages: the same schemas as the route's `messages` option (README, "Typed messages").
   * What the client sends is validated and encoded first (an invalid value rejects with
   * `FRWS_ERR_CLIENT_INVALID_MESSAGE` and is never sent); what it receives is decoded and
   * validated (an invalid one is acknowledged and reported by the `invalid` event).
   * @default none: payloads pass as they are
   */
  messages?: M
  /**
   * Uniform random numbers in `[0, 1)` for the backoff jitter.
   * @default Math.random
   */
  random?: () => number
  /**
   * Wall-clock time in ms; the heartbeat compares it with timer deadlines to notice late timers.
   * @default Date.now
   */
  now?: () => number
  /** @default globalThis.setTimeout */
  setTimeout?: SetTimer
  /** @default globalThis.clearTimeout */
  clearTimeout?: ClearTimer
}

/** Options after defaults were applied and checked. */
export type ResolvedClientOptions = Required<Omit<ReliableClientOptions, 'onRequest' | 'messages'>> & {
  onRequest: RequestHandler<MessageTypes> | undefined
  messages: ResolvedMessages | undefined
}

function invalid (name: string, expected: string, value: unknown): ReliableClientError {
  const shown = typeof value === 'function' ? 'a function' : typeof value === 'string' ? JSON.stringify(value) : String(value)
  return new ReliableClientError(ClientErrorCode.INVALID_OPTION, `Invalid option "${name}": expected ${expected}, received ${shown}`)
}

// setTimeout fires at once for a delay above 2^31-1 ms.
const MAX_TIMER_DELAY = 2_147_483_647

function checkDuration (name: string, value: number, allowInfinity = false): void {
  const valid = typeof value === 'number' && value >= 0 && (value <= MAX_TIMER_DELAY || (allowInfinity && value === Infinity))
  if (!valid) throw invalid(name, `a number of ms from 0 to ${MAX_TIMER_DELAY}${allowInfinity ? ' or Infinity' : ''}`, value)
}

function checkCount (name: string, value: number): void {
  if (!(Number.isSafeInteger(value) && value >= 1)) throw invalid(name, 'a positive integer', value)
}

function checkFunction (name: string, value: unknown): void {
  if (typeof value !== 'function') throw invalid(name, 'a function', value)
}

function defaultWebSocket (): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
}

/**
 * Apply the defaults and check every option.
 * @throws {ReliableClientError} `FRWS_ERR_CLIENT_NO_WEBSOCKET` when there is no WebSocket
 *   implementation, `FRWS_ERR_CLIENT_INVALID_OPTION` for a bad value
 */
export function resolveClientOptions (options: ReliableClientOptions<MessageSchemas | undefined> = {}): ResolvedClientOptions {
  const {
    WebSocket = defaultWebSocket(),
    handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT,
    baseDelay = 500,
    maxDelay = 30_000,
    maxAttempts = Infinity,
    shouldRetry = (info: CloseInfo) => info.code !== CloseCode.UNAUTHORIZED,
    maxUnacked = DEFAULT_MAX_UNACKED,
    maxUnackedBytes = DEFAULT_MAX_UNACKED_BYTES,
    requestTimeout = 30_000,
    onRequest,
    messages,
    random = Math.random,
    now = Date.now,
    setTimeout: setTimer = (callback: () => void, delay: number) => setTimeout(callback, delay),
    clearTimeout: clearTimer = (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>)
  } = options
  if (WebSocket === undefined) {
    throw new ReliableClientError(ClientErrorCode.NO_WEBSOCKET,
      'No WebSocket implementation: globalThis.WebSocket is missing; pass the option WebSocket (on Node 20, WebSocket from the ws package)')
  }
  checkFunction('WebSocket', WebSocket)
  checkDuration('handshakeTimeout', handshakeTimeout)
  if (handshakeTimeout === 0) throw invalid('handshakeTimeout', 'a number of ms > 0', handshakeTimeout)
  checkDuration('baseDelay', baseDelay)
  checkDuration('maxDelay', maxDelay)
  if (maxDelay < baseDelay) throw invalid('maxDelay', `a number >= baseDelay (${baseDelay})`, maxDelay)
  if (!(Number.isSafeInteger(maxAttempts) && maxAttempts >= 0) && maxAttempts !== Infinity) {
    throw invalid('maxAttempts', 'an integer >= 0 or Infinity', maxAttempts)
  }
  checkFunction('shouldRetry', shouldRetry)
  checkCount('maxUnacked', maxUnacked)
  checkCount('maxUnackedBytes', maxUnackedBytes)
  checkDuration('requestTimeout', requestTimeout, true)
  if (onRequest !== undefined) checkFunction('onRequest', onRequest)
  const resolved = messages === undefined ? undefined : resolveMessages(messages, 'messages')
  if (resolved !== undefined && 'bad' in resolved) throw invalid(resolved.bad, resolved.expected, resolved.value)
  checkFunction('random', random)
  checkFunction('now', now)
  checkFunction('setTimeout', setTimer)
  checkFunction('clearTimeout', clearTimer)
  return {
    WebSocket,
    handshakeTimeout,
    baseDelay,
    maxDelay,
    maxAttempts,
    shouldRetry,
    maxUnacked,
    maxUnackedBytes,
    requestTimeout,
    onRequest: onRequest as RequestHandler<MessageTypes> | undefined,
    messages: resolved,
    random,
    now,
    setTimeout: setTimer,
    clearTimeout: clearTimer
  }
}
