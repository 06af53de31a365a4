/** Something that can expire: a suspended reliable session. */
export interface Expirable {
  expire (): void
}

/**
 * Suspended sessions waiting for their client, expired by ONE timer set for the earliest expiry
 * (not a timer per session). Resuming a session removes it. Sessions are kept in the order they
 * were suspended, overall and per key (principal or remote address), so that the memory budget
 * can shed the oldest first.
 */
export class SuspendedSessions<T extends Expirable> {
  readonly #expiries = new Map<T, number>()
  readonly #byKey = new Map<string, Set<T>>()
  readonly #keys = new Map<T, string>()
  #timer: NodeJS.Timeout | undefined
  #timerAt = Infinity

  /** Number of sessions waiting. */
  get size (): number {
    return this.#expiries.size
  }

  /** Expire `session` at `expiresAt` (ms since the epoch) unless it is removed first; `key` groups it (principal or address). */
  add (session: T, expiresAt: number, key = ''): void {
    this.remove(session)
    this.#expiries.set(session, expiresAt)
    this.#keys.set(session, key)
    let group = this.#byKey.get(key)
    if (group === undefined) this.#byKey.set(key, group = new Set())
    group.add(session)
    if (expiresAt < this.#timerAt) this.#arm(expiresAt)
  }

  /** The session resumed or ended: forget it. */
  remove (session: T): void {
    if (!this.#expiries.delete(session)) return
    const key = this.#keys.get(session) as string
    this.#keys.delete(session)
    const group = this.#byKey.get(key)
    group?.delete(session)
    if (group?.size === 0) this.#byKey.delete(key)
    if (this.#expiries.size === 0) this.#disarm()
  }

  /** Number of sessions waiting under `key`. */
  countOf (key: string): number {
    return this.#byKey.get(key)?.size ?? 0
  }

  /** The session suspended longest ago, overall or under `key`; `undefined` when none. */
  oldest (key?: string): T | undefined {
    const sessions = key === undefined ? this.#expiries.keys() : this.#byKey.get(key)?.values()
    return sessions?.next().value
  }

  /** Stop the timer and forget every session (shutdown). */
  clear (): void {
    this.#expiries.clear()
    this.#byKey.clear()
    this.#keys.clear()
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
    for (const session of due) this.remove(session)
    if (next !== Infinity) this.#arm(next)
    for (const session of due) session.expire()
  }
}
