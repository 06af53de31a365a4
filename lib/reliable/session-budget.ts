/**
 * One memory budget for what the server holds on behalf of reliable sessions (issue 7): every
 * session, attached or suspended, is charged in real bytes for its record and for each
 * unacknowledged message it keeps for replay. The server state owns the one instance; a session
 * charges and releases its own share (`ReliableConnection`), and the server sheds suspended
 * sessions, oldest first, when a charge does not fit (docs/PROTOCOL.md, "Memory budget").
 * Socket write buffers are capped apart, per socket.
 */
import type { Payload } from '../protocol/frames.js'
import type { ResolvedSessionBudget } from './session-budget-options.js'

/**
 * Real bytes one buffered server-to-client message costs beyond its encoded frame: the `send()`
 * promise with its settle callback (and its `catch` once it rejects), the ring-buffer slots of the
 * outbound log, the slot in the in-memory store, and the string or Buffer object of the frame. Measured in a child
 * process (test/resources/session-budget-memory.test.ts prints the measure) with suspended
 * sessions of small messages on Node 20: about 780 B for a text frame and 940 B for a binary one
 * (a Buffer with its own ArrayBuffer; text payloads of 1,024 UTF-16 units or more are held that
 * way too, `server-frames.ts`). Re-measured 2026-11-29 (issue 12): 786 B and 954 B; 706 B and
 * 863 B once a send's `catch` was attached only when it rejects. Set above both,
 * so the charge never falls below what the process really holds.
 */
export const MESSAGE_OVERHEAD = 1024

/**
 * Real bytes a session costs with nothing buffered: the connection object and its helpers (outbound
 * log, inbound tracker, ack scheduler, store writer), the closed `ws` socket a suspended session
 * still references, its entries in the session maps and the store's record. Measured like
 * {@link MESSAGE_OVERHEAD}: 9,200 to 10,500 B per suspended session without messages (it
 * varies with the growth of the maps and arrays sessions share); 8,500 to 8,650 B since sockets let
 * go of their HTTP request and response once upgraded and the outbound log makes its ring on the
 * first message (issue 12, re-measured 2026-11-29). Measured since as the slope between 140 and
 * 340 suspended sessions, without compiled code (which comes and goes with JIT timing): 5,000 to
 * 6,900 B. Kept at 12 KiB, with headroom for one-off growth of shared maps (a single measurement
 * once saw 12,600 B): lowering it changes the documented minimum of `maxSessionBytes`.
 */
export const SESSION_OVERHEAD = 12 * 1024

/** The real bytes a session holds with `messages` buffered messages of `frameBytes` encoded bytes in all. */
export function sessionBytes (messages: number, frameBytes: number): number {
  return SESSION_OVERHEAD + frameBytes + messages * MESSAGE_OVERHEAD
}

/**
 * The bytes a frame occupies in memory, as counted against `maxUnackedBytes` and the session
 * budget: its length for bytes and ASCII text; V8 may keep other text in UTF-16, so it is counted
 * at two bytes per UTF-16 unit, or its UTF-8 size when that is larger.
 */
export function frameHeldBytes (frame: Payload, utf8Bytes: number = wireBytes(frame)): number {
  if (typeof frame !== 'string') return frame.byteLength
  return utf8Bytes === frame.length ? utf8Bytes : Math.max(utf8Bytes, 2 * frame.length)
}

/** The size of a frame on the wire: its bytes, or the UTF-8 length of its text. */
export function wireBytes (frame: Payload): number {
  return typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength
}

/**
 * The total of real bytes charged by every session of one plugin registration, against
 * `sessionBudget.maxTotalBytes`, plus the per-session limits the sessions apply themselves.
 */
export class SessionBudget {
  /** Most real bytes all sessions together may hold. */
  readonly maxTotalBytes: number
  /** Most real bytes one session may hold (its record included). */
  readonly maxSessionBytes: number
  /** Most suspended sessions kept at once. */
  readonly maxSuspended: number
  /** Most suspended sessions kept per principal, or per remote address on anonymous routes. */
  readonly maxSuspendedPerAddress: number
  /** Lifetime after a disconnect of a session whose client never acknowledged nor sent a message, in ms. */
  readonly unackedSessionTimeout: number
  #used = 0

  constructor (settings: ResolvedSessionBudget) {
    this.maxTotalBytes = settings.maxTotalBytes
    this.maxSessionBytes = settings.maxSessionBytes
    this.maxSuspended = settings.maxSuspended
    this.maxSuspendedPerAddress = settings.maxSuspendedPerAddress
    this.unackedSessionTimeout = settings.unackedSessionTimeout
  }

  /** Real bytes charged now, by all sessions. */
  get usedBytes (): number {
    return this.#used
  }

  /** True when `bytes` more fit under `maxTotalBytes`. */
  fits (bytes: number): boolean {
    return this.#used + bytes <= this.maxTotalBytes
  }

  /** Add `bytes` to the total (may pass the limit: callers check {@link fits} first where they can refuse). */
  charge (bytes: number): void {
    this.#used += bytes
  }

  /** Give back `bytes` charged earlier. */
  release (bytes: number): void {
    this.#used -= bytes
  }
}

/** One session's share of the {@link SessionBudget}: what it charged, kept in step with what it holds. */
export class SessionShare {
  readonly #budget: SessionBudget
  #charged = 0
  #closed = false

  constructor (budget: SessionBudget) {
    this.#budget = budget
  }

  /** Real bytes charged now (0 once closed). */
  get bytes (): number {
    return this.#charged
  }

  /**
   * Charge or give back the difference between what `log` makes the session hold now and what it charged.
   * @param slack - bytes held beyond the log's frames (the frame arena's, `frame-arena.ts`)
   */
  sync (log: { readonly count: number, readonly bytes: number }, slack = 0): void {
    // A closed share gave its bytes back for good, whatever the log still holds.
    if (this.#closed) return
    const held = sessionBytes(log.count, log.bytes + slack)
    this.#budget.charge(held - this.#charged)
    this.#charged = held
  }

  /** The session ended: give everything back, for good. */
  close (): void {
    this.#closed = true
    this.#budget.release(this.#charged)
    this.#charged = 0
  }
}
