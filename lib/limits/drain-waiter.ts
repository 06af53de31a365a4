import type { Duplex } from 'node:stream'

function noop (): void {}

/**
 * One wait for a socket's outbound buffer to drain. Every `send()` made while the buffer is above
 * the socket's high-water mark returns the same promise, so a congested connection costs one
 * promise, one listener and one timer per congestion, never one per message.
 */
export class DrainWaiter {
  /** Resolves on the transport's `drain` event; rejects through `fail()`. Never unhandled. */
  readonly promise: Promise<void>
  #settle!: (error: Error | undefined) => void
  #timer: NodeJS.Timeout | undefined
  #settled = false

  /**
   * @param transport - the socket's TCP (or TLS) stream; it emits `drain` once its buffer is empty
   * @param timeout - ms to wait before `onTimeout` runs; 0 waits forever
   * @param onSettled - called once, with true on drain and false on the timeout
   */
  constructor (transport: Duplex, timeout: number, onSettled: (drained: boolean) => void) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.#settle = (error) => { if (error === undefined) resolve(); else reject(error) }
    })
    this.promise.catch(noop)
    transport.once('drain', () => {
      if (this.#finish()) {
        this.#settle(undefined)
        onSettled(true)
      }
    })
    if (timeout > 0) {
      this.#timer = setTimeout(() => { if (!this.#settled) onSettled(false) }, timeout)
      this.#timer.unref()
    }
  }

  /** Reject the waiting senders (the connection closed first). */
  fail (error: Error): void {
    if (this.#finish()) this.#settle(error)
  }

  #finish (): boolean {
    if (this.#settled) return false
    this.#settled = true
    clearTimeout(this.#timer)
    return true
  }
}
