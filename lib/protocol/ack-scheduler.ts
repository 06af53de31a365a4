/**
 * Coalescing of cumulative acks (docs/PROTOCOL.md, "Acknowledgements").
 *
 * This module must stay free of Node-only imports: the browser client bundles it.
 */
import { DEFAULT_ACK_EVERY, DEFAULT_ACK_INTERVAL } from './defaults.js'

/** Starts a one-shot timer, like `setTimeout`; returns a handle for the matching {@link ClearTimer}. */
export type SetTimer = (callback: () => void, delay: number) => unknown

/** Cancels a timer started by the matching {@link SetTimer}, like `clearTimeout`. */
export type ClearTimer = (handle: unknown) => void

/** What the scheduler reads acks from; {@link InboundTracker} fits. */
export interface AckSource {
  /** Number of delivered messages not yet acknowledged. */
  readonly unacked: number
  /** The seq to acknowledge now (marking it acknowledged), or 0 when there is none. */
  takeAck (): number
}

/** Options of {@link AckScheduler}. */
export interface AckSchedulerOptions {
  /** Where the position to acknowledge comes from. */
  source: AckSource
  /** Writes an ack frame for `seq` (e.g. `socket.send(encodeAck(seq))`). */
  sendAck: (seq: number) => void
  /**
   * Longest time an ack is held back after the first unacknowledged delivery, in ms.
   * @default 20
   */
  ackInterval?: number
  /**
   * Number of unacknowledged deliveries that triggers an ack at once.
   * @default 64
   */
  ackEvery?: number
  /** @default globalThis.setTimeout */
  setTimer?: SetTimer
  /** @default globalThis.clearTimeout */
  clearTimer?: ClearTimer
}

const defaultSetTimer: SetTimer = (callback, delay) => setTimeout(callback, delay)
const defaultClearTimer: ClearTimer = (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>)

/**
 * Sends one cumulative ack for many deliveries: at once when `ackEvery` deliveries are
 * unacknowledged, otherwise `ackInterval` ms after the first unacknowledged delivery. At most one
 * timer is pending per scheduler, started only while something is unacknowledged.
 */
export class AckScheduler {
  /** Longest hold-back of an ack, in ms. */
  readonly ackInterval: number
  /** Deliveries that trigger an immediate ack. */
  readonly ackEvery: number
  private readonly source: AckSource
  private readonly sendAck: (seq: number) => void
  private readonly setTimer: SetTimer
  private readonly clearTimer: ClearTimer
  private timer: unknown = undefined
  private readonly onTimer = (): void => {
    this.timer = undefined
    this.flush()
  }

  constructor (options: AckSchedulerOptions) {
    const {
      source, sendAck, ackInterval = DEFAULT_ACK_INTERVAL, ackEvery = DEFAULT_ACK_EVERY,
      setTimer = defaultSetTimer, clearTimer = defaultClearTimer
    } = options
    if (!(ackInterval >= 0) || !Number.isFinite(ackInterval)) throw new TypeError('ackInterval must be a finite number >= 0')
    if (!Number.isSafeInteger(ackEvery) || ackEvery < 1) throw new TypeError('ackEvery must be a positive integer')
    this.source = source
    this.sendAck = sendAck
    this.ackInterval = ackInterval
    this.ackEvery = ackEvery
    this.setTimer = setTimer
    this.clearTimer = clearTimer
  }

  /** True while an ack is waiting for its timer. */
  get scheduled (): boolean {
    return this.timer !== undefined
  }

  /** Call after each delivery to the application. */
  delivered (): void {
    if (this.source.unacked >= this.ackEvery) {
      this.flush()
    } else if (this.timer === undefined) {
      this.timer = this.setTimer(this.onTimer, this.ackInterval)
    }
  }

  /** Send the pending ack now, if there is one (e.g. before a normal close). */
  flush (): void {
    if (this.timer !== undefined) {
      this.clearTimer(this.timer)
      this.timer = undefined
    }
    const seq = this.source.takeAck()
    if (seq > 0) this.sendAck(seq)
  }

  /** Cancel the timer without sending, e.g. when the connection is gone; pending deliveries stay pending. */
  stop (): void {
    if (this.timer === undefined) return
    this.clearTimer(this.timer)
    this.timer = undefined
  }
}
