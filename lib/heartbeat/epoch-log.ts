/**
 * Numbered epochs between the fires of the heartbeat timer, and the clock time each one began.
 *
 * Inbound traffic is stamped with the current epoch number: one field write, no clock read. When
 * the manager later needs to know how long a connection has been silent, it turns the stamp into
 * the latest clock time the frame can have been read at: the start of the following epoch. That
 * bound stays true when the timer fires late (a late fire only makes the epoch longer), so a
 * recently active connection never looks silent.
 *
 * Only the last `size` epoch starts are kept (a ring); an older stamp resolves to the oldest start
 * kept, which is later than its true end, so the answer stays on the safe side.
 */
export class EpochLog {
  /** The current epoch number; it only grows. */
  current = 0
  #starts: Float64Array
  #mask: number

  /**
   * @param size - epoch starts kept, a power of two >= 2; make it span the longest duration the
   *   owner compares against, with room to spare
   * @param time - clock time epoch 0 began, in ms
   */
  constructor (size: number, time: number) {
    checkSize(size)
    this.#starts = new Float64Array(size)
    this.#mask = size - 1
    this.#starts[0] = time
  }

  /** Number of epoch starts kept. */
  get size (): number {
    return this.#starts.length
  }

  /** End the current epoch and begin the next one at clock time `time` (ms). */
  begin (time: number): void {
    this.current++
    this.#starts[this.current & this.#mask] = time
  }

  /** True while the start of `epoch` is still kept. */
  keeps (epoch: number): boolean {
    return epoch >= this.current - this.#mask
  }

  /**
   * The clock time (ms) `epoch` began: the earliest a frame stamped with it can have been read. For
   * an epoch too old to be kept, the oldest start kept (later than the true one).
   */
  start (epoch: number): number {
    const oldest = this.current - this.#mask
    return this.#starts[(epoch < oldest ? oldest : epoch) & this.#mask]
  }

  /**
   * The latest clock time (ms) at which a frame stamped with `epoch` can have been read. `now` is
   * a clock reading taken after the frame was read; it answers for the current epoch.
   */
  latest (epoch: number, now: number): number {
    if (epoch >= this.current) return now
    const oldest = this.current - this.#mask
    const next = epoch + 1
    return this.#starts[(next < oldest ? oldest : next) & this.#mask]
  }

  /** Keep `size` epoch starts from now on, carrying over the most recent ones. */
  resize (size: number): void {
    checkSize(size)
    if (size === this.#starts.length) return
    const starts = new Float64Array(size)
    const kept = Math.min(size, this.#starts.length, this.current + 1)
    for (let epoch = this.current - kept + 1; epoch <= this.current; epoch++) {
      starts[epoch & (size - 1)] = this.#starts[epoch & this.#mask]
    }
    this.#starts = starts
    this.#mask = size - 1
  }
}

function checkSize (size: number): void {
  if (!Number.isInteger(size) || size < 2 || (size & (size - 1)) !== 0) {
    throw new RangeError(`epoch log size must be a power of two >= 2, got ${size}`)
  }
}
