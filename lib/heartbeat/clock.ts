import { performance } from 'node:perf_hooks'
import { clearInterval, setImmediate, setInterval } from 'node:timers'

/** A repeating timer made by a {@link HeartbeatClock}. */
export interface RepeatingTimer {
  /** Stop the timer; calling it again does nothing. */
  clear (): void
}

/** The time source and timer factory the heartbeat manager runs on. Tests inject a fake one. */
export interface HeartbeatClock {
  /** Current time in ms. Must never go backwards; the origin does not matter. */
  now (): number
  /**
   * Call `fn` every `interval` ms until the returned timer is cleared. The timer must not keep
   * the process alive on its own.
   */
  setInterval (fn: () => void, interval: number): RepeatingTimer
  /**
   * Run `fn` soon, after the input that is already pending has been read. The manager advances
   * its time in the timer callback and does the tick's work through `defer`, so frames read in
   * between count at the new time and a pong that arrived during a stall is seen before its
   * deadline is judged. Without `defer` the work runs at once (fake clocks).
   */
  defer? (fn: () => void): void
}

/**
 * The real clock: `performance.now()`, which is monotonic (a wall-clock step from NTP must not make
 * every connection look silent at once, as `Date.now()` would), an `unref()`'d `setInterval`, and
 * `setImmediate` as `defer`: it runs in the check phase, after the poll phase has read pending input.
 */
export const systemClock: HeartbeatClock = {
  now: () => performance.now(),
  setInterval (fn, interval) {
    const timer = setInterval(fn, interval)
    timer.unref()
    return { clear: () => clearInterval(timer) }
  },
  defer (fn) {
    setImmediate(fn)
  }
}
