/** Something that can expire: a suspended reliable session. */
export interface Expirable {
  expire (): void
}

/**
 * Suspended sessions waiting for their client, expired by ONE timer set for the earliest expiry
 * (not a timer per session). Resuming a session removes it.
 */
export class SuspendedSessions<T extends Expirable> {
  readonly #expiries = new Map<T, number>()
  #timer: NodeJS.Timeout | undefined
  #timerAt = Infinity

  /** Number of sessions waiting. */
  get size (): number {
    return this.#expiries.size
  }

  /** Expire `session` at `expiresAt` (ms since the epoch) unless it is removed first. */
  add (session: T, expiresAt: number): void {
    this.#expiries.set(session, expiresAt)
    if (expiresAt < this.#timerAt) this.#arm(expiresAt)
  }

  /** The session resumed or ended: forget it. */
  remove (session: T): void {
    this.#expiries.delete(session)
    if (this.#expiries.size === 0) this.#disarm()
  }

  /** Stop the timer and forget every session (shutdown). */
  clear (): void {
    this.#expiries.clear()
    this.#disarm()
  }

  #arm (at: number): void {
    this.#disarm()
    this.#timerAt = at
    this.#timer = setTimeout(() => this.#expireDue(), Math.max(0, at - Date.now()))
    this.#timer.unref()
  }

  #disarm (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = Infinity
  }

  #expireDue (): void {
    this.#timer = undefined
    this.#timerAt = Infinity
    const now = Date.now()
    let next = Infinity
    const due: T[] = []
    for (const [session, expiresAt] of this.#expiries) {
      if (expiresAt <= now) due.push(session)
      else if (expiresAt < next) next = expiresAt
    }
    for (const session of due) this.#expiries.delete(session)
    if (next !== Infinity) this.#arm(next)
    for (const session of due) session.expire()
  }
}
