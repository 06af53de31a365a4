import type { FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import { FRWS_ERR_CONNECTION_CLOSED, FRWS_ERR_SLOW_CONSUMER } from '../errors.js'
import { CloseCode } from '../protocol/close-codes.js'
import { transportOf } from '../write-batcher.js'
import { DrainWaiter } from './drain-waiter.js'
import type { ConnectionLimits } from './limit-options.js'
import { RateLimiter } from './rate-limiter.js'
import { publishLimitHit } from '../metrics/publish.js'
import type { MetricsSubject } from '../metrics/publish.js'
import type { LimitName } from '../metrics/channels.js'

/**
 * After a 4420 or 4429 close frame, how long the peer has to complete the close handshake before
 * its socket is terminated, in ms. A slow consumer by definition does not read its close frame
 * (it sits behind the buffered data), and a flooding peer should not hold the socket for ws's 30 s.
 */
export const CUT_GRACE_PERIOD = 1000

/** What the guard needs from the connection it protects. */
export interface GuardedConnection extends MetricsSubject {
  readonly log: FastifyBaseLogger
  /** The current socket (a reliable session moves to a new one on resume). */
  readonly socket: WebSocket
  /** Close the current socket and remember the cause. */
  closeWithCause (code: number, reason: string | undefined, cause: 'error'): void
}

const RESOLVED: Promise<void> = Promise.resolve()

function noop (): void {}

function rejection (error: Error): Promise<void> {
  const rejected = Promise.reject(error)
  rejected.catch(noop)
  return rejected
}

function terminateIfNotClosed (socket: WebSocket): void {
  if (socket.readyState !== 3) socket.terminate()
}

/**
 * The per-connection limits of one connection: the cap on its outbound buffer (4420), the wait
 * for the buffer to drain behind `send()`, and the inbound rate limit (4429). Every check is a
 * few field reads; nothing is allocated per message.
 */
export class ConnectionGuard {
  readonly #connection: GuardedConnection
  readonly #limits: ConnectionLimits
  // Built on the first inbound frame (a bucket starts full, so nothing changes): a connection that
  // never sends, and a reliable one until after its welcome, costs no limiter (issue 12).
  #rate: RateLimiter | undefined
  #drain: DrainWaiter | undefined

  constructor (connection: GuardedConnection, limits: ConnectionLimits) {
    this.#connection = connection
    this.#limits = limits
  }

  /**
   * The promise of a plain `send()` just written, given the socket's `bufferedAmount` before the
   * write: the shared resolved promise while the socket is below its high-water mark, the
   * promise of the congestion under way above it (one `DrainWaiter` per socket, reused by every
   * congestion), a FRWS_ERR_SLOW_CONSUMER rejection past the cap.
   */
  sent (before: number): Promise<void> {
    if (this.checkBuffered(before)) return rejection(new FRWS_ERR_SLOW_CONSUMER(this.#connection.id))
    const transport = transportOf(this.#connection.socket)
    if (transport === undefined || !transport.writableNeedDrain) return RESOLVED
    let waiter = this.#drain
    if (waiter === undefined || waiter.transport !== transport) {
      waiter?.fail(new FRWS_ERR_CONNECTION_CLOSED(this.#connection.id))
      // On the timeout the congestion stays under way: the close rejects it with FRWS_ERR_SLOW_CONSUMER.
      waiter = this.#drain = new DrainWaiter(transport, this.#limits.drainTimeout, (drained) => {
        if (!drained) this.#cutSlowConsumer('drain timeout', this.#connection.socket.bufferedAmount)
      })
    }
    return waiter.wait()
  }

  /**
   * Call after writing to the current socket, with its `bufferedAmount` before the write. A
   * buffer that was in use and is now above `maxBufferedBytes` cuts the connection with 4420 (an
   * empty buffer accepts one message of any size).
   * @returns true when the connection was cut
   */
  checkBuffered (before: number): boolean {
    const after = this.#connection.socket.bufferedAmount
    if (after <= this.#limits.maxBufferedBytes || before === 0) return false
    this.#cutSlowConsumer('buffer full', after)
    return true
  }

  /**
   * Count one inbound frame of `bytes` payload bytes against the rate limit. Past it, the
   * connection is cut with 4429 and the frame, like every later one, must be dropped.
   * @returns false when the frame must be dropped
   */
  admit (bytes: number): boolean {
    const limit = this.#limits.rateLimit
    if (limit === false) return true
    this.#rate ??= new RateLimiter(limit)
    const exceeded = this.#rate.admit(bytes)
    if (exceeded === undefined) return true
    const connection = this.#connection
    if (connection.socket.readyState === 1) {
      const { messagesPerSecond, bytesPerSecond, burstSeconds } = this.#limits.rateLimit as Exclude<ConnectionLimits['rateLimit'], false>
      connection.log.warn({ connectionId: connection.id, exceeded, messagesPerSecond, bytesPerSecond, burstSeconds }, 'websocket rate limit exceeded')
      this.cut(CloseCode.RATE_LIMITED, undefined, 'rateLimit')
    }
    return false
  }

  /**
   * Close the current socket with `code` (cause `error`) and terminate it if its close handshake
   * has not finished within {@link CUT_GRACE_PERIOD}.
   * @param limit - the limit that was passed, for the `limit:hit` channel
   */
  cut (code: number, reason: string | undefined, limit: LimitName): void {
    const socket = this.#connection.socket
    if (socket.readyState !== 1) return
    publishLimitHit(this.#connection, code, limit)
    this.#connection.closeWithCause(code, reason, 'error')
    setTimeout(terminateIfNotClosed, CUT_GRACE_PERIOD, socket).unref()
  }

  /** The connection ended with `code`: senders waiting for a drain are rejected. */
  ended (code: number): void {
    const id = this.#connection.id
    this.#drain?.fail(code === CloseCode.SLOW_CONSUMER ? new FRWS_ERR_SLOW_CONSUMER(id) : new FRWS_ERR_CONNECTION_CLOSED(id))
    this.#drain = undefined
  }

  #cutSlowConsumer (why: 'buffer full' | 'drain timeout', bufferedBytes: number): void {
    const connection = this.#connection
    if (connection.socket.readyState !== 1) return
    const { maxBufferedBytes, drainTimeout } = this.#limits
    connection.log.warn({ connectionId: connection.id, why, bufferedBytes, maxBufferedBytes, drainTimeout }, 'websocket slow consumer cut')
    this.cut(CloseCode.SLOW_CONSUMER, undefined, why === 'buffer full' ? 'maxBufferedBytes' : 'drainTimeout')
  }
}
