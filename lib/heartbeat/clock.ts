import { performance } from 'node:perf_hooks'
import { clearInterval, clearTimeout, setImmediate, setInterval, setTimeout } from 'node:timers'

/** A timer made by a {@link HeartbeatClock}. */
export interface ClockTimer {
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
  setInterval (fn: () => void, interval: number): ClockTimer
  /**
   * Call `fn` once, `timeout` ms from now (an integer >= 1), unless the returned timer is cleared
   * first. The timer must not keep the process alive on its own.
   */
  setTimeout (fn: () => void, timeout: number): ClockTimer
  /**
   * Run `fn` soon, after the input that is already pending has been read. The manager begins a
   * tick in the timer callback and does the tick's work through `defer`, so frames read in
   * between count in the new tick and a pong that arrived during a stall is seen before its
   * deadline is judged. Without `defer` the work runs at once (fake clocks).
   */
  defer? (fn: () => void): void
}

/**
 * The real clock: `performance.now()`, which is monotonic (a wall-clock step from NTP must not make
 * every connection look silent at once, as `Date.now()` would), `unref()`'d timers, and
 * `setImmediate` as `defer`: it runs in the check phase, after the poll phase has read pending input.
 */
export const systemClock: HeartbeatClock = {
  now: () => performance.now(),
  setInterval (fn, interval) {
    const timer = setInterval(fn, interval)
    timer.unref()
    return { clear: () => clearInterval(timer) }
  },
  setTimeout (fn, timeout) {
    const timer = setTimeout(fn, timeout)
    timer.unref()
    return { clear: () => clearTimeout(timer) }
  },
  defer (fn) {
    setImmediate(fn)
  }
}
