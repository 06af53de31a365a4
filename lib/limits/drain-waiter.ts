import type { Duplex } from 'node:stream'

type Transport = Duplex & { bytesWritten?: number, _handle?: { writeQueueSize?: number } | null }

function noop (): void {}

/**
 * Where the drain stands: the bytes whose writes completed, and the bytes libuv still holds of the
 * writes in progress. A large write completes only at its end, so progress inside it shows only
 * in the handle's `writeQueueSize` (internal to Node's net, read defensively).
 */
function drainedBytes (transport: Transport): number {
  return (transport.bytesWritten ?? 0) - transport.writableLength
}

function queuedBytes (transport: Transport): number {
  return transport._handle?.writeQueueSize ?? 0
}

/**
 * The waits of one socket for its outbound buffer to drain. Every `send()` made while the buffer
 * is above the socket's high-water mark returns the same promise, so a congestion costs one
 * promise, never one per message. The `drain` listener and the timer are made once per socket
 * and reused by every later congestion (issue 12: at 4 KiB echoes a corked turn passes the
 * high-water mark every time, and a listener and a timer per turn showed in the profile).
 *
 * The timeout measures a stall, not a slow drain: when it fires and the position of the drain
 * moved since the last check (the peer reads, slowly), it starts again.
 */
export class DrainWaiter {
  /** The stream this waiter listens to; a reliable session that moves to a new socket needs a new waiter. */
  readonly transport: Transport
  readonly #timeout: number
  readonly #onSettled: (drained: boolean) => void
  #promise: Promise<void> | undefined
  #resolve: () => void = noop
  #reject: (error: Error) => void = noop
  #timer: NodeJS.Timeout | undefined
  #lastDrained = 0
  #lastQueued = 0
  #failed = false

  /**
   * @param transport - the socket's TCP (or TLS) stream; it emits `drain` once its buffer is empty
   * @param timeout - ms without progress before `onSettled(false)`; 0 waits forever
   * @param onSettled - called at the end of each congestion: true on drain, false on the timeout
   */
  constructor (transport: Duplex, timeout: number, onSettled: (drained: boolean) => void) {
    this.transport = transport
    this.#timeout = timeout
    this.#onSettled = onSettled
    transport.on('drain', this.#onDrain)
  }

  /** The promise of the congestion under way, starting one now if none is. Rejects through {@link fail}. */
  wait (): Promise<void> {
    if (this.#promise !== undefined) return this.#promise
    if (this.#failed) throw new Error('DrainWaiter used after fail()')
    const promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    promise.catch(noop)
    this.#promise = promise
    if (this.#timeout > 0) {
      // Writes corked in this turn are dispatched later: any change of position is progress.
      this.#lastDrained = drainedBytes(this.transport)
      this.#lastQueued = queuedBytes(this.transport)
      if (this.#timer === undefined) {
        this.#timer = setTimeout(this.#onTimer, this.#timeout)
        this.#timer.unref()
      } else {
        this.#timer.refresh()
      }
    }
    return promise
  }

  /** Reject the waiting senders and stop listening for good (the connection closed or moved). */
  fail (error: Error): void {
    this.#failed = true
    this.transport.removeListener('drain', this.#onDrain)
    clearTimeout(this.#timer)
    const reject = this.#reject
    this.#end()
    reject(error)
  }

  readonly #onDrain = (): void => {
    if (this.#promise === undefined) return
    const resolve = this.#resolve
    this.#end()
    resolve()
    this.#onSettled(true)
  }

  // The timer is left armed between congestions; a fire with none under way does nothing.
  readonly #onTimer = (): void => {
    if (this.#promise === undefined) return
    const drained = drainedBytes(this.transport)
    const queued = queuedBytes(this.transport)
    if (drained !== this.#lastDrained || queued !== this.#lastQueued) {
      this.#lastDrained = drained
      this.#lastQueued = queued
      this.#timer?.refresh()
      return
    }
    // The congestion stays under way: the close that follows rejects its senders through fail().
    this.#onSettled(false)
  }

  #end (): void {
    this.#promise = undefined
    this.#resolve = noop
    this.#reject = noop
  }
}
