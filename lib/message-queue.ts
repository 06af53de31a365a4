/**
 * @internal What arrives before the application listens: a route handler may be async, so the
 * messages (and, on reliable routes, the requests) that come in before it attaches its listener
 * wait here instead of being dropped.
 */

/** At this many messages (or reliable requests) waiting for a listener, the socket stops reading (backpressure). */
export const PENDING_PAUSE_THRESHOLD = 256

/**
 * @internal Items waiting for their first listener. Open from the start; closed for good once
 * flushed to a listener or dropped (the handler settled without listening, or the connection ended).
 */
export class MessageQueue<Item> {
  #items: Item[] | null = []

  /** True until the queue was taken or dropped: new items still wait here. */
  get isOpen (): boolean {
    return this.#items !== null
  }

  /** True while it holds {@link PENDING_PAUSE_THRESHOLD} items or more: reading must stay paused. */
  get isFull (): boolean {
    return this.#items !== null && this.#items.length >= PENDING_PAUSE_THRESHOLD
  }

  /** Queue an item (the queue must be open); true when this one filled it to the threshold: pause reading now. */
  push (item: Item): boolean {
    const items = this.#items as Item[]
    items.push(item)
    return items.length === PENDING_PAUSE_THRESHOLD
  }

  /** Close the queue and return what waited, oldest first (empty when it was already closed). */
  take (): Item[] {
    const items = this.#items ?? []
    this.#items = null
    return items
  }

  /** Close the queue and discard what waited: nobody will ever listen. */
  drop (): void {
    this.#items = null
  }
}
