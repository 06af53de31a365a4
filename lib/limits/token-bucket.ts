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
   * Take `amount` tokens at time `now`, if the bucket holds that many. A full bucket accepts any
   * amount: a unit larger than the bucket (one big message) passes an idle bucket and leaves it in
   * debt, so the average rate still holds.
   * @returns false when the tokens do not suffice (nothing is taken then)
   */
  take (amount: number, now: number): boolean {
    const elapsed = now - this.#last
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#perMs)
      this.#last = now
    }
    if (this.#tokens < amount && this.#tokens < this.#capacity) return false
    this.#tokens -= amount
    return true
  }
}
