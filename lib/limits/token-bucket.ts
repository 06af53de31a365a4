/**
 * A token bucket: tokens flow in at a steady rate up to a capacity, and each unit of work takes
 * some. Time is passed in by the caller (ms on any monotonic clock), so one clock read can serve
 * several buckets and tests need no fake timers.
 */
export class TokenBucket {
  readonly #perMs: number
  readonly #capacity: number
  #tokens: number
  #last: number

  /**
   * @param perSecond - tokens added per second, > 0
   * @param capacity - most tokens the bucket holds (the burst), > 0; it starts full
   * @param now - the current time in ms
   */
  constructor (perSecond: number, capacity: number, now: number) {
    this.#perMs = perSecond / 1000
    this.#capacity = capacity
    this.#tokens = capacity
    this.#last = now
  }

  /** Tokens in the bucket at the last `take()` (negative while in debt). */
  get tokens (): number {
    return this.#tokens
  }

  /**
   * Take `amount` tokens at time `now`. It succeeds while the bucket holds any token, and may then
   * take it into debt: a single large unit (one big message) always fits an idle bucket, and the
   * average rate still holds because the debt is paid back before the next success.
   * @returns false when the bucket is empty or in debt (nothing is taken then)
   */
  take (amount: number, now: number): boolean {
    const elapsed = now - this.#last
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#perMs)
      this.#last = now
    }
    if (this.#tokens <= 0) return false
    this.#tokens -= amount
    return true
  }
}
