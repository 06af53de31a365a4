import { TokenBucket } from './token-bucket.js'
import { turnNow } from './turn-clock.js'

/** Per-connection rate limit of inbound frames, after defaults (see `RateLimitOptions`). */
export interface ResolvedRateLimit {
  /** Frames per second; `Infinity` turns the frame count off. */
  messagesPerSecond: number
  /** Payload bytes per second; `Infinity` turns the byte count off. */
  bytesPerSecond: number
  /** How many seconds of traffic at the full rate a quiet connection may send at once. */
  burstSeconds: number
}

/** Which limit a frame exceeded. */
export type RateLimitExceeded = 'messages' | 'bytes'

/** The monotonic time source of the limiters, in ms. */
export type Clock = () => number

/**
 * The two token buckets of one connection: frames and bytes. One clock read per frame serves
 * both. Created only when the route has a rate limit.
 */
export class RateLimiter {
  readonly #messages: TokenBucket | undefined
  readonly #bytes: TokenBucket | undefined
  readonly #now: Clock

  /** @param now - injectable for tests; the default is `performance.now()` read once per event-loop turn */
  constructor (settings: ResolvedRateLimit, now: Clock = turnNow) {
    const start = now()
    this.#now = now
    this.#messages = bucket(settings.messagesPerSecond, settings.burstSeconds, start)
    this.#bytes = bucket(settings.bytesPerSecond, settings.burstSeconds, start)
  }

  /**
   * Count one inbound frame of `bytes` payload bytes.
   * @returns the limit it exceeded, or `undefined` when it is within both
   */
  admit (bytes: number): RateLimitExceeded | undefined {
    const now = this.#now()
    if (this.#messages !== undefined && !this.#messages.take(1, now)) return 'messages'
    if (this.#bytes !== undefined && !this.#bytes.take(bytes, now)) return 'bytes'
    return undefined
  }
}

function bucket (perSecond: number, burstSeconds: number, now: number): TokenBucket | undefined {
  return perSecond === Infinity ? undefined : new TokenBucket(perSecond, Math.max(1, perSecond * burstSeconds), now)
}
