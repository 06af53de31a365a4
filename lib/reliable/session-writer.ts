import type { Payload } from '../protocol/frames.js'
import type { SessionPatch, SessionStore, StoredMessage } from '../store/session-store.js'

/**
 * Keeps a session's record in the store current with one `update()` per event-loop turn, however
 * many messages the turn sent, acknowledged or delivered. Writes are chained, so the store sees
 * them in order. When the store answers that this connection no longer owns the session (another
 * node or connection resumed it), `onSuperseded` runs once.
 */
export class SessionWriter {
  readonly #store: SessionStore
  readonly #sessionId: string
  #ownerId: string
  readonly #onSuperseded: () => void
  readonly #onError: (error: unknown) => void
  #append: StoredMessage[] = []
  #serverAcked = -1
  #clientDelivered = -1
  #scheduled = false
  #chain: Promise<void> = Promise.resolve()
  #stopped = false

  constructor (
    store: SessionStore, sessionId: string, ownerId: string,
    onSuperseded: () => void, onError: (error: unknown) => void
  ) {
    this.#store = store
    this.#sessionId = sessionId
    this.#ownerId = ownerId
    this.#onSuperseded = onSuperseded
    this.#onError = onError
  }

  /** The connection (socket) id that owns the session in the store. */
  get ownerId (): string {
    return this.#ownerId
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
    this.#serverAcked = seq
    this.#schedule()
  }

  /** The server delivered client messages up to `seq`. */
  delivered (seq: number): void {
    this.#clientDelivered = seq
    this.#schedule()
  }

  /** Write what is pending now and resolve when every write so far has reached the store. */
  flush (): Promise<void> {
    this.#write()
    return this.#chain
  }

  /** Stop writing (the session ended or moved); pending changes are dropped. */
  stop (): void {
    this.#stopped = true
    this.#append = []
  }

  #schedule (): void {
    if (this.#scheduled || this.#stopped) return
    this.#scheduled = true
    setImmediate(() => this.#write())
  }

  #write (): void {
    this.#scheduled = false
    if (this.#stopped) return
    const patch: SessionPatch = {}
    if (this.#append.length > 0) {
      patch.append = this.#append
      this.#append = []
    }
    if (this.#serverAcked >= 0) patch.serverAcked = this.#serverAcked
    if (this.#clientDelivered >= 0) patch.clientDelivered = this.#clientDelivered
    this.#serverAcked = -1
    this.#clientDelivered = -1
    if (patch.append === undefined && patch.serverAcked === undefined && patch.clientDelivered === undefined) return
    this.#chain = this.#chain.then(async () => {
      if (this.#stopped) return
      try {
        let ownerId = this.#ownerId
        let owned = await this.#store.update(this.#sessionId, ownerId, patch)
        // Resumed on this node meanwhile: the same connection owns the session under a new owner id.
        while (!owned && ownerId !== this.#ownerId && !this.#stopped) {
          ownerId = this.#ownerId
          owned = await this.#store.update(this.#sessionId, ownerId, patch)
        }
        if (!owned && !this.#stopped) {
          this.#stopped = true
          this.#onSuperseded()
        }
      } catch (error) {
        this.#onError(error)
      }
    })
  }
}
