/**
 * A small typed event emitter for the browser (no `node:events`).
 */

/** Maps each event name to the tuple of arguments its listeners receive. */
export type EventMap = { [event: string]: unknown[] }

/** A listener of event `K` of the map `E`. */
export type Listener<E extends EventMap, K extends keyof E> = (...args: E[K]) => void

/** Called with an error thrown by a listener; the default rethrows it in a microtask. */
export type ListenerErrorHandler = (error: unknown) => void

function rethrowLater (error: unknown): void {
  queueMicrotask(() => { throw error })
}

/**
 * Calls listeners synchronously in the order they were added. A listener that throws does not stop
 * the others and does not reach the code that emitted (the client's state stays consistent): the
 * error goes to the `onListenerError` handler, which by default rethrows it in a microtask, where
 * browsers report it and Node treats it as an uncaught exception (as a throwing `EventEmitter`
 * listener would be). Emitting `error` without listeners does nothing.
 */
export class Emitter<E extends EventMap> {
  // Copy on write: emit iterates a snapshot, so listeners may add or remove listeners.
  private readonly listeners = new Map<keyof E, ReadonlyArray<Listener<E, keyof E>>>()
  private readonly onListenerError: ListenerErrorHandler

  /** @param onListenerError - where errors thrown by listeners go */
  constructor (onListenerError: ListenerErrorHandler = rethrowLater) {
    this.onListenerError = onListenerError
  }

  /**
   * Add a listener.
   * @returns a function that removes it
   */
  on<K extends keyof E> (event: K, listener: Listener<E, K>): () => void {
    const current = this.listeners.get(event) ?? []
    this.listeners.set(event, [...current, listener as Listener<E, keyof E>])
    return () => this.off(event, listener)
  }

  /**
   * Add a listener that is removed before its first call.
   * @returns a function that removes it
   */
  once<K extends keyof E> (event: K, listener: Listener<E, K>): () => void {
    const remove = this.on(event, (...args) => {
      remove()
      listener(...args)
    })
    return remove
  }

  /** Remove a listener added with {@link on}; removes one registration per call. */
  off<K extends keyof E> (event: K, listener: Listener<E, K>): void {
    const current = this.listeners.get(event)
    if (current === undefined) return
    const index = current.indexOf(listener as Listener<E, keyof E>)
    if (index === -1) return
    const next = current.filter((_, i) => i !== index)
    if (next.length === 0) this.listeners.delete(event)
    else this.listeners.set(event, next)
  }

  /** Number of listeners of `event`. */
  listenerCount (event: keyof E): number {
    return this.listeners.get(event)?.length ?? 0
  }

  /** Remove every listener of every event. */
  removeAllListeners (): void {
    this.listeners.clear()
  }

  /** Call every listener of `event` with `args`. */
  emit<K extends keyof E> (event: K, ...args: E[K]): void {
    const current = this.listeners.get(event)
    if (current === undefined) return
    for (const listener of current) {
      try {
        listener(...args)
      } catch (error) {
        this.onListenerError(error)
      }
    }
  }
}
