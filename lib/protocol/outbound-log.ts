/**
 * The sender side of one direction of a reliable session (docs/PROTOCOL.md, "Sequencing" and
 * "Overflow").
 *
 * This module must stay free of Node-only imports: the browser client bundles it.
 */
import { CloseCode } from './close-codes.js'
import { DEFAULT_MAX_UNACKED, DEFAULT_MAX_UNACKED_BYTES } from './defaults.js'
import type { Payload } from './frames.js'
import { ProtocolError } from './protocol-error.js'

/**
 * Called once when a message leaves the log: with `null` when the peer acknowledged it, with an
 * error when {@link OutboundLog.fail} gives up on it.
 */
export type SendCallback = (error: Error | null) => void

/** Options of {@link OutboundLog}. */
export interface OutboundLogOptions {
  /**
   * Most unacknowledged messages the log holds.
   * @default 4096
   */
  maxCount?: number
  /**
   * Most bytes of unacknowledged frames the log holds. An empty log takes one message of any size,
   * so a single message larger than this is not an overflow by itself.
   * @default 1048576
   */
  maxBytes?: number
  /**
   * The highest seq the peer has acknowledged: 0 for a new session, the stored value when the log
   * is rebuilt from a session store (then push the stored frames in seq order).
   * @default 0
   */
  acked?: number
}

const INITIAL_CAPACITY = 16
/** An empty ring at least this large is given back: a burst must not leave an idle session holding it. */
const SHRINK_CAPACITY = 256

/**
 * Assigns seq numbers to outgoing messages and keeps every message until the peer acknowledges it,
 * so it can be replayed after a reconnect. Entries live in a ring buffer (parallel arrays, no
 * object per message) that grows by doubling.
 *
 * Bounds: {@link push} refuses a message that would take the log past `maxCount` messages or
 * `maxBytes` bytes and returns 0; nothing is dropped. What to do then is the caller's policy: the
 * server ends the session with close code 4413 (the peer then sees continuity break), the client
 * rejects that `send()` (docs/PROTOCOL.md, "Overflow").
 */
export class OutboundLog {
  /** Most unacknowledged messages held. */
  readonly maxCount: number
  /** Most bytes of unacknowledged frames held. */
  readonly maxBytes: number
  private frames!: Array<Payload | undefined>
  private sizes!: number[]
  private callbacks!: Array<SendCallback | undefined>
  private mask!: number
  private head = 0
  private length = 0
  private byteCount = 0
  private ackedSeq: number

  constructor (options: OutboundLogOptions = {}) {
    const { maxCount = DEFAULT_MAX_UNACKED, maxBytes = DEFAULT_MAX_UNACKED_BYTES, acked = 0 } = options
    if (!Number.isSafeInteger(maxCount) || maxCount < 1) throw new TypeError('maxCount must be a positive integer')
    if (!(maxBytes >= 1)) throw new TypeError('maxBytes must be at least 1')
    if (!Number.isSafeInteger(acked) || acked < 0) throw new TypeError('acked must be a non-negative integer')
    this.maxCount = maxCount
    this.maxBytes = maxBytes
    this.ackedSeq = acked
    // No slots until the first push: an idle session holds no ring (issue 12, idle session memory).
    this.dropRing()
  }

  /** The highest seq the peer acknowledged (0 when none). */
  get acked (): number {
    return this.ackedSeq
  }

  /** The highest seq assigned so far (0 when none). */
  get lastSeq (): number {
    return this.ackedSeq + this.length
  }

  /** The seq the next {@link push} assigns; encode the frame with it. */
  get nextSeq (): number {
    return this.ackedSeq + this.length + 1
  }

  /** Number of unacknowledged messages held. */
  get count (): number {
    return this.length
  }

  /** Bytes of unacknowledged frames held (the sum of the sizes given to {@link push}). */
  get bytes (): number {
    return this.byteCount
  }

  /** True when a message of `size` bytes fits within the bounds. */
  fits (size: number): boolean {
    return this.length === 0 || (this.length < this.maxCount && this.byteCount + size <= this.maxBytes)
  }

  /**
   * Append a frame encoded with {@link nextSeq}.
   * @param size - the frame's size in bytes, as counted against `maxBytes` (e.g. `frameSize(frame)`)
   * @param callback - called once when the peer acknowledges the message, or on {@link fail}
   * @returns the seq assigned, or 0 when the message does not fit (nothing is appended)
   */
  push (frame: Payload, size: number, callback?: SendCallback): number {
    if (!this.fits(size)) return 0
    if (this.length > this.mask) this.grow()
    const index = (this.head + this.length) & this.mask
    this.frames[index] = frame
    this.sizes[index] = size
    this.callbacks[index] = callback
    this.length++
    this.byteCount += size
    return this.ackedSeq + this.length
  }

  /**
   * Apply a cumulative ack: release every message up to `seq` and call their callbacks with `null`.
   * An ack at or below {@link acked} is a stale duplicate and is ignored.
   * @returns the number of messages released
   * @throws {ProtocolError} 4400 when `seq` is above {@link lastSeq}: an ack of a message never sent
   */
  ack (seq: number): number {
    if (seq > this.lastSeq) {
      throw new ProtocolError(CloseCode.BAD_MESSAGE, `ack ${seq} of a message never sent (last seq sent is ${this.lastSeq})`)
    }
    let released = 0
    while (this.ackedSeq < seq) {
      const index = this.head
      const callback = this.callbacks[index]
      this.byteCount -= this.sizes[index]
      this.frames[index] = undefined
      this.callbacks[index] = undefined
      this.head = (index + 1) & this.mask
      this.length--
      this.ackedSeq++
      released++
      if (this.length === 0 && this.mask + 1 >= SHRINK_CAPACITY) this.dropRing()
      // State is consistent before the callback runs, so a callback may push or ack again.
      if (callback !== undefined) callback(null)
    }
    return released
  }

  /**
   * Resume from the position the peer stated in the handshake: release everything up to
   * `delivered` (the peer has it) and return the frames after it, in seq order, to send again.
   * @param delivered - the highest seq of this direction the peer delivered (hello `resume.delivered`
   *   on the server, welcome `delivered` on the client)
   * @throws {ProtocolError} 4400 when `delivered` is above {@link lastSeq} or below {@link acked}
   *   (the peer claims more than was sent, or less than it already acknowledged)
   */
  replayFrom (delivered: number): Payload[] {
    if (delivered > this.lastSeq) {
      throw new ProtocolError(CloseCode.BAD_MESSAGE, `peer claims delivery of seq ${delivered} but the last seq sent is ${this.lastSeq}`)
    }
    if (delivered < this.ackedSeq) {
      throw new ProtocolError(CloseCode.BAD_MESSAGE, `peer position ${delivered} is behind its own ack ${this.ackedSeq}`)
    }
    this.ack(delivered)
    const frames = new Array<Payload>(this.length)
    for (let i = 0; i < this.length; i++) frames[i] = this.frames[(this.head + i) & this.mask] as Payload
    return frames
  }

  /**
   * Visit every unacknowledged message in seq order, e.g. to save it to a session store.
   */
  forEach (visit: (seq: number, frame: Payload, size: number) => void): void {
    for (let i = 0; i < this.length; i++) {
      const index = (this.head + i) & this.mask
      visit(this.ackedSeq + i + 1, this.frames[index] as Payload, this.sizes[index])
    }
  }

  /**
   * Call every pending callback with `error` and forget the callbacks, e.g. when the session
   * expires or moves to another node. The messages stay in the log.
   */
  fail (error: Error): void {
    const pending: SendCallback[] = []
    for (let i = 0; i < this.length; i++) {
      const index = (this.head + i) & this.mask
      const callback = this.callbacks[index]
      if (callback === undefined) continue
      this.callbacks[index] = undefined
      pending.push(callback)
    }
    // Called after the sweep, so a callback that pushes a new message does not see it failed.
    for (const callback of pending) callback(error)
  }

  private dropRing (): void {
    this.frames = []
    this.sizes = []
    this.callbacks = []
    this.mask = -1
    this.head = 0
  }

  private grow (): void {
    const capacity = this.mask < 0 ? INITIAL_CAPACITY : (this.mask + 1) * 2
    const frames = new Array<Payload | undefined>(capacity)
    const sizes = new Array<number>(capacity).fill(0)
    const callbacks = new Array<SendCallback | undefined>(capacity)
    for (let i = 0; i < this.length; i++) {
      const index = (this.head + i) & this.mask
      frames[i] = this.frames[index]
      sizes[i] = this.sizes[index]
      callbacks[i] = this.callbacks[index]
    }
    this.frames = frames
    this.sizes = sizes
    this.callbacks = callbacks
    this.mask = capacity - 1
    this.head = 0
  }
}
