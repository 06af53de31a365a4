import { checkInteger, checkKnownKeys, checkLimit, checkObject, invalidOption } from '../option-checks.js'
import type { ResolvedRateLimit } from './rate-limiter.js'

/**
 * Per-connection rate limit of inbound frames: two token buckets, frames and bytes. Every frame
 * the peer sends counts: application messages, reliable-mode protocol frames (acks, pings) and
 * RFC 6455 pings and pongs; close frames do not. A frame beyond either limit closes the
 * connection with 4429 `rate limit exceeded`.
 */
export interface RateLimitOptions {
  /** Frames per second, or `Infinity` for no frame limit. @default 100000 */
  messagesPerSecond?: number
  /** Payload bytes per second, or `Infinity` for no byte limit. @default 67108864 (64 MiB) */
  bytesPerSecond?: number
  /** Seconds of traffic at the full rate that a quiet connection may send at once (the bucket size). @default 1 */
  burstSeconds?: number
}

/** Backpressure and rate limits of one route, after defaults: one object per route, shared by its connections. */
export interface ConnectionLimits {
  /** Outbound bytes a connection may buffer before it is cut with 4420. */
  maxBufferedBytes: number
  /** How long a waiting `send()` may see no progress of the drain before the connection is cut with 4420, in ms; 0 = forever. */
  drainTimeout: number
  /** The inbound rate limit, or `false`. */
  rateLimit: ResolvedRateLimit | false
}

/** The options of this file, plugin-wide or per route. */
export interface LimitOptions {
  /**
   * Most bytes a connection may hold in its outbound buffer (the socket's `bufferedAmount`, which
   * includes what was sent earlier in the same event-loop turn). A send that finds the buffer
   * non-empty and leaves it above this closes the connection with 4420 `slow consumer`; an empty
   * buffer accepts one message of any size. Must exceed what one turn sends to one connection.
   * @default 4194304 (4 MiB)
   */
  maxBufferedBytes?: number
  /**
   * How long a plain route's `send()` that waits for the buffer to drain may see no progress (the
   * kernel takes none of the buffered bytes: the peer does not read) before the connection is cut
   * with 4420, in ms; 0 waits forever (the heartbeat still finds a dead peer). A peer that reads,
   * however slowly, is not cut by it.
   * @default 30000
   */
  drainTimeout?: number
  /** Inbound rate limit per connection, or `false` for none. @default { messagesPerSecond: 100000, bytesPerSecond: 67108864, burstSeconds: 1 } */
  rateLimit?: RateLimitOptions | false
}

/** Defaults of the limits. The rate limit is far above what one well-behaved connection sends (see README, "Limits"). */
export const LIMIT_DEFAULTS = {
  maxBufferedBytes: 4 * 1024 * 1024,
  drainTimeout: 30_000,
  rateLimit: { messagesPerSecond: 100_000, bytesPerSecond: 64 * 1024 * 1024, burstSeconds: 1 }
} as const

/** The option names of this file. */
export const LIMIT_KEYS = ['maxBufferedBytes', 'drainTimeout', 'rateLimit'] as const

function resolveRateLimit (value: unknown, base: ResolvedRateLimit | false): ResolvedRateLimit | false {
  if (value === undefined) return base
  if (value === false) return false
  const options = checkObject('rateLimit', value)
  checkKnownKeys('rateLimit', options, ['messagesPerSecond', 'bytesPerSecond', 'burstSeconds'])
  const defaults = base === false ? LIMIT_DEFAULTS.rateLimit : base
  const burstSeconds = options.burstSeconds ?? defaults.burstSeconds
  if (typeof burstSeconds !== 'number' || !Number.isFinite(burstSeconds) || burstSeconds <= 0) {
    invalidOption('rateLimit.burstSeconds', 'a number > 0', burstSeconds)
  }
  return {
    messagesPerSecond: checkLimit('rateLimit.messagesPerSecond', options.messagesPerSecond ?? defaults.messagesPerSecond, 1),
    bytesPerSecond: checkLimit('rateLimit.bytesPerSecond', options.bytesPerSecond ?? defaults.bytesPerSecond, 1),
    burstSeconds
  }
}

/**
 * Validate the limit options over `base` (the plugin's limits for a route override, the defaults
 * for the plugin). Returns `base` itself when nothing changes, so routes share one object.
 */
export function resolveLimits (options: LimitOptions, base: ConnectionLimits): ConnectionLimits {
  if (options.maxBufferedBytes === undefined && options.drainTimeout === undefined && options.rateLimit === undefined) return base
  return {
    maxBufferedBytes: options.maxBufferedBytes === undefined ? base.maxBufferedBytes : checkInteger('maxBufferedBytes', options.maxBufferedBytes, 1),
    drainTimeout: options.drainTimeout === undefined ? base.drainTimeout : checkInteger('drainTimeout', options.drainTimeout, 0),
    rateLimit: resolveRateLimit(options.rateLimit, base.rateLimit)
  }
}

/**
 * On a reliable route a resume replays up to `maxUnackedBytes` in one go: a smaller outbound cap
 * would cut every resuming client that is a little slow to read.
 */
export function checkBufferFitsReplay (limits: ConnectionLimits, maxUnackedBytes: number): void {
  if (limits.maxBufferedBytes < maxUnackedBytes) {
    invalidOption('maxBufferedBytes', `an integer >= reliable.maxUnackedBytes (${maxUnackedBytes}) on a reliable route`, limits.maxBufferedBytes)
  }
}

/** The limits when no option is given. */
export const DEFAULT_LIMITS: ConnectionLimits = {
  maxBufferedBytes: LIMIT_DEFAULTS.maxBufferedBytes,
  drainTimeout: LIMIT_DEFAULTS.drainTimeout,
  rateLimit: { ...LIMIT_DEFAULTS.rateLimit }
}
