import type { Payload } from '../protocol/frames.js'
import type { SessionPatch, SessionStore, StoredMessage } from '../store/session-store.js'

/** What the store has committed of a session, as far as this writer knows. */
export interface CommittedPosition {
  /** Highest client-to-server seq whose delivery the store recorded. */
  clientDelivered: number
  /** Highest server-to-client seq the store recorded. */
  serverSeq: number
}

/** What a {@link SessionWriter} reports to (the connection; methods rather than closures keep a session small). */
export interface SessionWriterHost {
  /** The store answered that another connection owns the session (a resume elsewhere); runs once. */
  storeSuperseded (): void
  /** A write failed; it is retried (after `retryDelay` ms) with everything that piled up meanwhile. */
  storeWriteFailed (error: unknown, retryDelay: number): void
  /** A write committed: {@link SessionWriter.committed} moved (docs/SCALE-OUT.md, "Durability rule"). */
  storeCommitted (): void
}

const FIRST_RETRY_DELAY = 50
const MAX_RETRY_DELAY = 2000

/**
 * Keeps a session's record in the store current with one `update()` per event-loop turn, however
 * many messages the turn sent, acknowledged or delivered. At most one write is in flight; what
 * piles up meanwhile goes out in the next one, so the store sees changes in order. A write that
 * fails is not lost: its changes go back in front of the pending ones and the write is retried
 * with capped exponential backoff, so later appends still follow on from the stored seq.
 */
export class SessionWriter {
  readonly #store: SessionStore
  readonly #sessionId: string
  #ownerId: string
  readonly #host: SessionWriterHost
  #append: StoredMessage[] = []
  #serverAcked = -1
  #clientDelivered = -1
  #scheduled = false
  #inFlight = false
  #retryDelay = 0
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #idle: Array<() => void> = []
  #stopped = false
  readonly #committed: CommittedPosition

  constructor (store: SessionStore, sessionId: string, ownerId: string, committed: CommittedPosition, host: SessionWriterHost) {
    this.#store = store
    this.#sessionId = sessionId
    this.#ownerId = ownerId
    this.#committed = { ...committed }
    this.#host = host
  }

  /** The connection (socket) id that owns the session in the store. */
  get ownerId (): string {
    return this.#ownerId
  }

  /** What the store has committed so far. */
  get committed (): Readonly<CommittedPosition> {
    return this.#committed
  }

  /** A new socket claimed the session: later writes go out under its owner id. */
  setOwner (ownerId: string): void {
    this.#ownerId = ownerId
  }

  /** A server-to-client message was assigned `seq`. */
  appended (seq: number, frame: Payload): void {
    this.#append.push({ seq, frame })
    this.#schedule()
  }

  /** The client acknowledged server messages up to `seq`. */
  acked (seq: number): void {
    this.#serverAcked = Math.max(this.#serverAcked, seq)
    this.#schedule()
  }

  /** The server delivered client messages up to `seq`. */
  delivered (seq: number): void {
    this.#clientDelivered = Math.max(this.#clientDelivered, seq)
    this.#schedule()
  }

  /**
   * Write what is pending now; resolves once nothing is pending or in flight, or once a write
   * failed (it is still retried in the background).
   */
  flush (): Promise<void> {
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer)
      this.#retryTimer = undefined
    }
    const idle = new Promise<void>((resolve) => this.#idle.push(resolve))
    this.#write()
    if (!this.#inFlight) this.#settleIdle()
    return idle
  }

  /** Stop writing (the session ended or moved); pending changes are dropped. */
  stop (): void {
    this.#stopped = true
    this.#append = []
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    this.#settleIdle()
  }

  #schedule (): void {
    if (this.#scheduled || this.#stopped || this.#inFlight || this.#retryTimer !== undefined) return
    this.#scheduled = true
    setImmediate(() => this.#write())
  }

  #takePatch (): SessionPatch | undefined {
    const patch: SessionPatch = {}
    if (this.#append.length > 0) patch.append = this.#append
    if (this.#serverAcked >= 0) patch.serverAcked = this.#serverAcked
    if (this.#clientDelivered >= 0) patch.clientDelivered = this.#clientDelivered
    this.#append = []
    this.#serverAcked = -1
    this.#clientDelivered = -1
    if (patch.append === undefined && patch.serverAcked === undefined && patch.clientDelivered === undefined) return undefined
    return patch
  }

  // A failed patch goes back in front of what piled up meanwhile; positions are cumulative.
  #putBack (patch: SessionPatch): void {
    if (patch.append !== undefined) this.#append = [...patch.append, ...this.#append]
    if (patch.serverAcked !== undefined) this.#serverAcked = Math.max(this.#serverAcked, patch.serverAcked)
    if (patch.clientDelivered !== undefined) this.#clientDelivered = Math.max(this.#clientDelivered, patch.clientDelivered)
  }

  #write (): void {
    this.#scheduled = false
    if (this.#stopped || this.#inFlight) return
    const patch = this.#takePatch()
    if (patch === undefined) return
    this.#inFlight = true
    void this.#commit(patch).finally(() => {
      this.#inFlight = false
      if (this.#stopped) return
      if (this.#retryTimer !== undefined) {
        this.#settleIdle()
        return
      }
      if (this.#append.length > 0 || this.#serverAcked >= 0 || this.#clientDelivered >= 0) this.#write()
      if (!this.#inFlight) this.#settleIdle()
    })
  }

  async #commit (patch: SessionPatch): Promise<void> {
    try {
      let ownerId = this.#ownerId
      let owned = await this.#store.update(this.#sessionId, ownerId, patch)
      // Resumed on this node meanwhile: the same connection owns the session under a new owner id.
      while (!owned && ownerId !== this.#ownerId && !this.#stopped) {
        ownerId = this.#ownerId
        owned = await this.#store.update(this.#sessionId, ownerId, patch)
      }
      if (this.#stopped) return
      if (!owned) {
        this.stop()
        this.#host.storeSuperseded()
        return
      }
      this.#retryDelay = 0
      if (patch.clientDelivered !== undefined) this.#committed.clientDelivered = patch.clientDelivered
      if (patch.append !== undefined) this.#committed.serverSeq = patch.append[patch.append.length - 1].seq
      this.#host.storeCommitted()
    } catch (error) {
      if (this.#stopped) return
      this.#putBack(patch)
      this.#retryDelay = Math.min(MAX_RETRY_DELAY, this.#retryDelay === 0 ? FIRST_RETRY_DELAY : this.#retryDelay * 2)
      this.#host.storeWriteFailed(error, this.#retryDelay)
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined
        this.#write()
      }, this.#retryDelay)
      this.#retryTimer.unref()
    }
  }

  #settleIdle (): void {
    const waiting = this.#idle
    this.#idle = []
    for (const resolve of waiting) resolve()
  }
}
