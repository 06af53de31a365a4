import type { FastifyRequest } from 'fastify'
import {
  DEFAULT_ACK_EVERY, DEFAULT_ACK_INTERVAL, DEFAULT_MAX_UNACKED, DEFAULT_MAX_UNACKED_BYTES, DEFAULT_SESSION_TIMEOUT
} from '../protocol/defaults.js'
import { checkInteger, checkKnownKeys, checkObject, invalidOption } from '../option-checks.js'

/** Settings of reliable mode on a route: `fastify.wsRoute(url, { reliable: true | ReliableOptions }, handler)`. */
export interface ReliableOptions {
  /** How long a session survives without a connection, in ms. @default 120000 */
  sessionTimeout?: number
  /** Most server-to-client messages kept unacknowledged per session; more ends the session with 4413. @default 4096 */
  maxUnacked?: number
  /**
   * Most bytes of unacknowledged server-to-client frames per session; more ends the session with
   * 4413. Counted as held in memory: bytes and ASCII text at their length, other text at two bytes
   * per UTF-16 unit (or its UTF-8 size if larger). `sessionBudget.maxSessionBytes` bounds the
   * session's real memory, overheads included. @default 1048576
   */
  maxUnackedBytes?: number
  /** Longest time the server holds back an ack after delivering a client message, in ms. @default 20 */
  ackInterval?: number
  /** Delivered client messages after which the server acks at once. @default 64 */
  ackEvery?: number
  /** Default timeout of `connection.request()`, in ms. @default 10000 */
  requestTimeout?: number
  /**
   * The authenticated identity of an upgrade request (after your auth hooks ran), e.g.
   * `(request) => request.user.id`. A session can only be resumed by the same principal (else 4401).
   * @default every request is anonymous (`null`): the session id is then the only secret
   */
  principal?: (request: FastifyRequest) => string | null | undefined | Promise<string | null | undefined>
}

/** Reliable settings after defaults. */
export interface ResolvedReliable {
  sessionTimeout: number
  maxUnacked: number
  maxUnackedBytes: number
  ackInterval: number
  ackEvery: number
  requestTimeout: number
  principal: ((request: FastifyRequest) => string | null | undefined | Promise<string | null | undefined>) | undefined
}

const KEYS = ['sessionTimeout', 'maxUnacked', 'maxUnackedBytes', 'ackInterval', 'ackEvery', 'requestTimeout', 'principal'] as const

/** Validate a route's `reliable` option; `undefined`/`false` means plain mode. */
export function resolveReliable (value: unknown): ResolvedReliable | undefined {
  if (value === undefined || value === false) return undefined
  const options = value === true ? {} : checkObject('reliable', value)
  checkKnownKeys('reliable', options, KEYS)
  if (options.principal !== undefined && typeof options.principal !== 'function') {
    invalidOption('reliable.principal', 'a function (request) => string | null', options.principal)
  }
  const resolved: ResolvedReliable = {
    sessionTimeout: checkInteger('reliable.sessionTimeout', options.sessionTimeout ?? DEFAULT_SESSION_TIMEOUT, 1),
    maxUnacked: checkInteger('reliable.maxUnacked', options.maxUnacked ?? DEFAULT_MAX_UNACKED, 1),
    maxUnackedBytes: checkInteger('reliable.maxUnackedBytes', options.maxUnackedBytes ?? DEFAULT_MAX_UNACKED_BYTES, 1),
    ackInterval: checkInteger('reliable.ackInterval', options.ackInterval ?? DEFAULT_ACK_INTERVAL, 0),
    ackEvery: checkInteger('reliable.ackEvery', options.ackEvery ?? DEFAULT_ACK_EVERY, 1),
    requestTimeout: checkInteger('reliable.requestTimeout', options.requestTimeout ?? 10_000, 1),
    principal: options.principal as ResolvedReliable['principal']
  }
  if (resolved.ackEvery >= resolved.maxUnacked) {
    invalidOption('reliable.ackEvery', `an integer below reliable.maxUnacked (${resolved.maxUnacked})`, resolved.ackEvery)
  }
  return resolved
}
