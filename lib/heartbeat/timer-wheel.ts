/** Bucket number of an entry that is in no list. */
const DETACHED = -1
/** Bucket number of an entry that waits in the due list of the tick being processed. */
const DUE = -2
/** Bucket number of an entry held outside the buckets until its owner releases it (a wait shorter than a tick). */
const HELD = -3

/** The intrusive links an entry of a {@link TimerWheel} carries: no wrapper object per entry. */
export interface WheelEntry<T> {
  /** @internal next entry in the same list */
  wheelNext: T | null
  /** @internal previous entry in the same list */
  wheelPrev: T | null
  /** @internal bucket number, -1 when detached, -2 in the due list, -3 held */
  wheelBucket: number
}

/**
 * A hashed timer wheel over integer tick numbers. Each bucket is an intrusive doubly linked list,
 * so scheduling and removing an entry are O(1) and advancing touches only the entries of the
 * buckets that came due. An entry further away than the wheel's span is parked in the last bucket
 * of the span and met again one revolution later; its owner then schedules it anew.
 *
 * The wheel knows nothing about time: the owner converts durations to tick numbers.
 */
export class TimerWheel<T extends WheelEntry<T>> {
  /** Tick number of the last bucket moved to the due list. */
  current = 0
  #buckets: Array<T | null>
  #mask: number
  #due: T | null = null
  #held: T | null = null

  /** @param size - number of buckets, a power of two >= 2 */
  constructor (size: number) {
    checkSize(size)
    this.#buckets = new Array<T | null>(size).fill(null)
    this.#mask = size - 1
  }

  /** Number of buckets: an entry can be scheduled at most `size - 1` ticks ahead without a revisit. */
  get size (): number {
    return this.#buckets.length
  }

  /**
   * Put `entry` into the bucket of tick `tick`, clamped to `current + 1 ... current + size - 1`.
   * An entry already in a list is moved.
   */
  schedule (entry: T, tick: number): void {
    if (entry.wheelBucket !== DETACHED) this.unschedule(entry)
    const last = this.current + this.#mask
    const at = tick <= this.current ? this.current + 1 : tick > last ? last : tick
    const bucket = at & this.#mask
    const head = this.#buckets[bucket]
    entry.wheelBucket = bucket
    entry.wheelPrev = null
    entry.wheelNext = head
    if (head !== null) head.wheelPrev = entry
    this.#buckets[bucket] = entry
  }

  /** Take `entry` out of whichever list holds it; does nothing for a detached entry. */
  unschedule (entry: T): void {
    const bucket = entry.wheelBucket
    if (bucket === DETACHED) return
    const { wheelPrev: prev, wheelNext: next } = entry
    if (prev !== null) prev.wheelNext = next
    else if (bucket === DUE) this.#due = next
    else if (bucket === HELD) this.#held = next
    else this.#buckets[bucket] = next
    if (next !== null) next.wheelPrev = prev
    entry.wheelNext = null
    entry.wheelPrev = null
    entry.wheelBucket = DETACHED
  }

  /** True when `entry` is in a bucket, the due list or the held list. */
  isScheduled (entry: T): boolean {
    return entry.wheelBucket !== DETACHED
  }

  /** Put `entry` into the held list, out of the buckets, until {@link releaseHeld}. An entry already in a list is moved. */
  hold (entry: T): void {
    if (entry.wheelBucket !== DETACHED) this.unschedule(entry)
    this.#push(entry, HELD)
  }

  /** Move every held entry to the due list. */
  releaseHeld (): void {
    for (let entry = this.#held; entry !== null; entry = this.#held) {
      this.unschedule(entry)
      this.#push(entry, DUE)
    }
  }

  /**
   * Move every entry of the buckets from `current + 1` up to `tick` into the due list and make
   * `tick` current. After a long stall only one revolution is swept: that already covers every bucket.
   */
  advance (tick: number): void {
    const first = Math.max(this.current + 1, tick - this.#mask)
    // current moves first, so entries rescheduled while the due list is drained land after `tick`.
    this.current = tick
    for (let t = first; t <= tick; t++) {
      const bucket = t & this.#mask
      let entry = this.#buckets[bucket]
      this.#buckets[bucket] = null
      while (entry !== null) {
        const next: T | null = entry.wheelNext
        this.#push(entry, DUE)
        entry = next
      }
    }
  }

  /** Link a detached entry at the head of the due or held list. */
  #push (entry: T, list: typeof DUE | typeof HELD): void {
    const head = list === DUE ? this.#due : this.#held
    entry.wheelBucket = list
    entry.wheelPrev = null
    entry.wheelNext = head
    if (head !== null) head.wheelPrev = entry
    if (list === DUE) this.#due = entry
    else this.#held = entry
  }

  /** Detach and return the next entry of the due list, or null when it is empty. */
  takeDue (): T | null {
    const entry = this.#due
    if (entry !== null) this.unschedule(entry)
    return entry
  }

  /** Detach every entry of every list and return them: for shutting down. */
  clear (): T[] {
    this.releaseHeld()
    const entries = this.drain()
    for (let entry = this.takeDue(); entry !== null; entry = this.takeDue()) entries.push(entry)
    return entries
  }

  /**
   * Detach every entry from the buckets (not the due or held list) and return them, optionally giving the
   * wheel a new size; the owner schedules them again. O(entries + buckets): for rare retuning only.
   */
  drain (size = this.size): T[] {
    checkSize(size)
    const entries: T[] = []
    for (let bucket = 0; bucket < this.#buckets.length; bucket++) {
      let entry = this.#buckets[bucket]
      while (entry !== null) {
        const next: T | null = entry.wheelNext
        entry.wheelNext = null
        entry.wheelPrev = null
        entry.wheelBucket = DETACHED
        entries.push(entry)
        entry = next
      }
    }
    this.#buckets = new Array<T | null>(size).fill(null)
    this.#mask = size - 1
    return entries
  }
}

function checkSize (size: number): void {
  if (!Number.isInteger(size) || size < 2 || (size & (size - 1)) !== 0) {
    throw new RangeError(`timer wheel size must be a power of two >= 2, got ${size}`)
  }
}
