/**
 * One timer for many deadlines (issue 12): the handshake timeouts of upgrades and of reliable
 * hellos. A Node timer per handshake costs a `Timeout` object, a list insert, `unref()` and a
 * `clearTimeout()`; here a handshake costs one link in an intrusive list. Most deadlines of one
 * server share a duration, so they arrive in order and an insert is one step from the tail.
 */

/** What an entry of a {@link DeadlineQueue} carries: its deadline and its links (no wrapper object). */
export interface DeadlineEntry<T> {
  /** @internal `performance.now()` time at which the entry expires; NaN when not queued (start with NaN) */
  deadlineAt: number
  /** @internal */
  deadlinePrev: T | null
  /** @internal */
  deadlineNext: T | null
}

/**
 * Deadlines in time order, with one `unref()`'d timer armed for the earliest. An entry expires
 * (its callback runs) no earlier than its delay after {@link add}.
 */
export class DeadlineQueue<T extends DeadlineEntry<T>> {
  #head: T | null = null
  #tail: T | null = null
  #timer: NodeJS.Timeout | undefined
  #armedAt = Infinity
  readonly #expire: (entry: T) => void
  readonly #onTimer = (): void => this.#fire()

  /** @param expire - called with each entry whose deadline passed, after it left the queue */
  constructor (expire: (entry: T) => void) {
    this.#expire = expire
  }

  /** True while `entry` waits in this queue. */
  has (entry: T): boolean {
    return !Number.isNaN(entry.deadlineAt)
  }

  /** Queue `entry` to expire `delay` ms from now (moved when already queued). */
  add (entry: T, delay: number): void {
    if (this.has(entry)) this.remove(entry)
    entry.deadlineAt = performance.now() + delay
    let before = this.#tail
    while (before !== null && before.deadlineAt > entry.deadlineAt) before = before.deadlinePrev
    entry.deadlinePrev = before
    entry.deadlineNext = before === null ? this.#head : before.deadlineNext
    if (entry.deadlineNext === null) this.#tail = entry
    else entry.deadlineNext.deadlinePrev = entry
    if (before === null) {
      this.#head = entry
      this.#arm(entry.deadlineAt)
    } else {
      before.deadlineNext = entry
    }
  }

  /** Take `entry` out of the queue; nothing happens when it is not queued. */
  remove (entry: T): void {
    if (!this.has(entry)) return
    const { deadlinePrev: prev, deadlineNext: next } = entry
    if (prev === null) this.#head = next
    else prev.deadlineNext = next
    if (next === null) this.#tail = prev
    else next.deadlinePrev = prev
    entry.deadlinePrev = null
    entry.deadlineNext = null
    entry.deadlineAt = Number.NaN
    // The timer stays armed, also for an empty queue: it fires once, finds nothing due and re-arms
    // for the head, if any. Handshakes come and go faster than their deadlines, so re-arming here
    // would cost a timer per handshake again.
  }

  /** Drop every entry without expiring it, and stop the timer. */
  clear (): void {
    while (this.#head !== null) this.remove(this.#head)
    this.#disarm()
  }

  #arm (at: number): void {
    if (at >= this.#armedAt) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#armedAt = at
    // The timers' clock may lag performance.now() by a fraction of a ms: a timer that fires early re-arms.
    this.#timer = setTimeout(this.#onTimer, Math.max(1, Math.ceil(at - performance.now())))
    this.#timer.unref()
  }

  #disarm (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#armedAt = Infinity
  }

  #fire (): void {
    this.#timer = undefined
    this.#armedAt = Infinity
    const now = performance.now()
    let head = this.#head
    while (head !== null && head.deadlineAt <= now) {
      this.remove(head)
      this.#expire(head)
      head = this.#head
    }
    if (head !== null) this.#arm(head.deadlineAt)
  }
}

