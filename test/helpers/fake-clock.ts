import type { ClockTimer, HeartbeatClock } from '../../lib/heartbeat/clock.js'

interface FakeTimer { fn: () => void, interval: number, next: number, once: boolean }

/**
 * Most timers and actions one {@link FakeClock.advance} runs. A synchronous loop cannot be stopped by
 * a test's timeout, so a timer that keeps re-arming at the same instant must fail here, not hang.
 */
export const MAX_FIRES_PER_ADVANCE = 1_000_000

/** A clock whose time moves only when the test says so; timers fire at their exact times. */
export class FakeClock implements HeartbeatClock {
  time = 0
  #fires = 0
  /** Repeating timers (`setInterval`). */
  readonly timers = new Set<FakeTimer>()
  /** One-shot timers (`setTimeout`) not yet fired. */
  readonly timeouts = new Set<FakeTimer>()
  #actions: Array<{ at: number, fn: () => void }> = []

  /** @param jitter - ms added to the n-th interval of a repeating timer (negative fires early), like a real event loop */
  constructor (readonly jitter: (fire: number) => number = () => 0) {}

  now (): number {
    return this.time
  }

  setInterval (fn: () => void, interval: number): ClockTimer {
    const timer = { fn, interval, next: this.time + interval + this.jitter(this.#fires++), once: false }
    this.timers.add(timer)
    return { clear: () => this.timers.delete(timer) }
  }

  setTimeout (fn: () => void, timeout: number): ClockTimer {
    const timer = { fn, interval: timeout, next: this.time + timeout, once: true }
    this.timeouts.add(timer)
    return { clear: () => this.timeouts.delete(timer) }
  }

  /** Run `fn` at time `at` (before a timer due at the same time). */
  at (at: number, fn: () => void): void {
    this.#actions.push({ at, fn })
    this.#actions.sort((a, b) => a.at - b.at)
  }

  /** Move time forward by `ms`, running actions and timers in time order. */
  advance (ms: number): void {
    const end = this.time + ms
    for (let fired = 0; ; fired++) {
      if (fired === MAX_FIRES_PER_ADVANCE) {
        throw new Error(`FakeClock.advance(${ms}) ran ${fired} timers and actions without reaching ${end} ms (now ${this.time} ms): a runaway timer`)
      }
      const action = this.#actions[0]
      let timer: FakeTimer | undefined
      for (const candidate of this.timers) if (timer === undefined || candidate.next < timer.next) timer = candidate
      for (const candidate of this.timeouts) if (timer === undefined || candidate.next < timer.next) timer = candidate
      const timerAt = timer === undefined ? Infinity : Math.max(timer.next, this.time)
      if (action !== undefined && action.at <= end && action.at <= timerAt) {
        this.#actions.shift()
        this.time = Math.max(this.time, action.at)
        action.fn()
      } else if (timer !== undefined && timerAt <= end) {
        this.time = timerAt
        if (timer.once) this.timeouts.delete(timer)
        else timer.next = this.time + timer.interval + this.jitter(this.#fires++)
        timer.fn()
      } else {
        break
      }
    }
    this.time = end
  }

  /** Move time forward without firing timers, like a blocked event loop; overdue timers fire once on the next `advance`. */
  stall (ms: number): void {
    this.time += ms
  }
}
