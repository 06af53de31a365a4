import type { Duplex } from 'node:stream'

type Transport = Duplex & { bytesWritten?: number, _handle?: { writeQueueSize?: number } | null }

function noop (): void {}

/**
 * Where the drain stands: the bytes whose writes completed, and the bytes libuv still holds of the
 * writes in progress. A large write completes only at its end, so progress inside it shows only
 * in the handle's `writeQueueSize` (internal to Node's net, read defensively).
 */
function position (transport: Transport): { done: number, queued: number } {
  return {
    done: (transport.bytesWritten ?? 0) - transport.writableLength,
    queued: transport._handle?.writeQueueSize ?? 0
  }
}

/**
 * One wait for a socket's outbound buffer to drain. Every `send()` made while the buffer is above
 * the socket's high-water mark returns the same promise, so a congested connection costs one
 * promise, one listener and one timer per congestion, never one per message.
 *
 * The timeout measures a stall, not a slow drain: when it fires and the position of the drain
 * moved since the last check (the peer reads, slowly), it starts again.
 */
export class DrainWaiter {
  /** Resolves on the transport's `drain` event; rejects through `fail()`. Never unhandled. */
  readonly promise: Promise<void>
  #settle!: (error: Error | undefined) => void
  #timer: NodeJS.Timeout | undefined
  #settled = false

  /**
   * @param transport - the socket's TCP (or TLS) stream; it emits `drain` once its buffer is empty
   * @param timeout - ms without progress before `onSettled(false)`; 0 waits forever
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
      // Writes corked in this turn are dispatched later: any change of position is progress.
      let last = position(transport)
      const timer = setTimeout(() => {
        if (this.#settled) return
        const now = position(transport)
        if (now.done !== last.done || now.queued !== last.queued) {
          last = now
          timer.refresh()
          return
        }
        onSettled(false)
      }, timeout)
      timer.unref()
      this.#timer = timer
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
