/** The outcome of {@link UpgradeRateLimiter.take}. */
export interface RateDecision {
  /** 0 when the upgrade may go on; otherwise how long until the address has a token again, in ms. */
  retryAfter: number
  /** True for the first refusal since the address last got a token: the one worth a warn log line. */
  firstRefusal: boolean
}

interface Bucket {
  tokens: number
  at: number
  refusing: boolean
}

/**
 * Upgrade requests per address as token buckets: an address may make `perAddress` upgrades at
 * once, and gets them back at `perAddress` per `interval`. A bucket that has refilled completely
 * carries no information, so buckets untouched for one `interval` are dropped (swept at most once
 * per `interval`, on the next request): memory follows the addresses of the last interval or two.
 */
export class UpgradeRateLimiter {
  readonly #buckets = new Map<string, Bucket>()
  readonly #capacity: number
  readonly #interval: number
  readonly #now: () => number
  #sweptAt: number

  /**
   * @param perAddress - upgrades an address may make at once (the bucket's size)
   * @param interval - time in which an empty bucket refills completely, in ms
   * @param now - the clock, in ms (injectable for tests)
   */
  constructor (perAddress: number, interval: number, now: () => number = Date.now) {
    this.#capacity = perAddress
    this.#interval = interval
    this.#now = now
    this.#sweptAt = now()
  }

  /** Addresses with a bucket (for tests and stats). */
  get size (): number {
    return this.#buckets.size
  }

  /** Spend one token of `key`'s bucket, if it has one. */
  take (key: string): RateDecision {
    const now = this.#now()
    if (now - this.#sweptAt >= this.#interval) this.#sweep(now)
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      bucket = { tokens: this.#capacity, at: now, refusing: false }
      this.#buckets.set(key, bucket)
    } else {
      bucket.tokens = Math.min(this.#capacity, bucket.tokens + (now - bucket.at) * this.#capacity / this.#interval)
      bucket.at = now
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      bucket.refusing = false
      return { retryAfter: 0, firstRefusal: false }
    }
    const firstRefusal = !bucket.refusing
    bucket.refusing = true
    return { retryAfter: Math.ceil((1 - bucket.tokens) * this.#interval / this.#capacity), firstRefusal }
  }

  #sweep (now: number): void {
    this.#sweptAt = now
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.at >= this.#interval) this.#buckets.delete(key)
    }
  }
}
