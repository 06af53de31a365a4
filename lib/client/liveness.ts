/**
 * The client's app-level heartbeat (docs/PROTOCOL.md, "Heartbeat"; docs/CLIENT.md states the bound).
 * A browser's JavaScript never sees RFC 6455 pings, so the client pings with `frws:ping:<token>`
 * and counts any frame as proof that the server lives.
 */
import type { ClearTimer, SetTimer } from '../protocol/ack-scheduler.js'

/**
 * A timer that fires more than this many ms after its due time proves that the client was
 * throttled or asleep, not that the server is dead (background tabs align timers to 1 s; a
 * suspended laptop fires them at wake-up).
 */
export const LATE_TIMER_THRESHOLD = 1000

/** Options of {@link LivenessMonitor}. */
export interface LivenessOptions {
  /** Silence after which a ping is sent, in ms (the welcome's `pingInterval`); must be > 0. */
  pingInterval: number
  /** Time after a ping within which some frame must arrive, in ms (the welcome's `pongTimeout`); must be > 0. */
  pongTimeout: number
  /** Sends `frws:ping:<token>`. */
  sendPing: (token: string) => void
  /** Called once when the server is considered dead; the monitor has stopped by then. */
  onDead: () => void
  /** Wall-clock time in ms (`Date.now`): it keeps running while a laptop sleeps. */
  now: () => number
  setTimer: SetTimer
  clearTimer: ClearTimer
}

/**
 * Pings after `pingInterval` without any frame from the server and declares it dead when nothing
 * arrives within `pongTimeout` after the ping. One timer at a time; {@link heard} only records
 * the time, so a busy connection costs one `now()` per frame and is never pinged.
 *
 * A pong deadline judged by a timer that fired more than {@link LATE_TIMER_THRESHOLD} ms late gets
 * one more ping and a fresh `pongTimeout` instead (once per silence: any frame resets it).
 */
export class LivenessMonitor {
  private readonly options: LivenessOptions
  private lastHeard = 0
  private heardSincePing = false
  // 0 while no ping is outstanding.
  private pongDeadline = 0
  private graceUsed = false
  private timer: unknown = undefined
  // Numbers the pings: each one's token.
  private pings = 0
  private stopped = true

  constructor (options: LivenessOptions) {
    this.options = options
  }

  /** Start watching; counts as having just heard from the server. */
  start (): void {
    this.stopped = false
    this.heard()
    this.schedule(this.options.pingInterval, this.onIdleTimer)
  }

  /** Call for every frame received from the server. */
  heard (): void {
    this.lastHeard = this.options.now()
    this.heardSincePing = true
    this.graceUsed = false
  }

  /**
   * Check at once, e.g. when a hidden page becomes visible again: send a ping now, or, if one is
   * outstanding and its deadline has passed unnoticed, judge it now.
   */
  wake (): void {
    if (this.stopped) return
    if (this.pongDeadline === 0) {
      this.ping()
    } else if (this.options.now() > this.pongDeadline) {
      this.cancelTimer()
      this.onPongTimer()
    }
  }

  /** Stop all timers. */
  stop (): void {
    this.stopped = true
    this.pongDeadline = 0
    this.cancelTimer()
  }

  private cancelTimer (): void {
    if (this.timer === undefined) return
    this.options.clearTimer(this.timer)
    this.timer = undefined
  }

  private schedule (delay: number, callback: () => void): void {
    this.cancelTimer()
    this.timer = this.options.setTimer(callback, delay)
  }

  private ping (): void {
    this.heardSincePing = false
    this.pings++
    this.pongDeadline = this.options.now() + this.options.pongTimeout
    this.schedule(this.options.pongTimeout, this.onPongTimer)
    this.options.sendPing(String(this.pings))
  }

  private readonly onIdleTimer = (): void => {
    this.timer = undefined
    const silence = this.options.now() - this.lastHeard
    if (silence < this.options.pingInterval) this.schedule(this.options.pingInterval - silence, this.onIdleTimer)
    else this.ping()
  }

  private readonly onPongTimer = (): void => {
    this.timer = undefined
    const now = this.options.now()
    if (this.heardSincePing) {
      this.pongDeadline = 0
      this.schedule(Math.max(0, this.lastHeard + this.options.pingInterval - now), this.onIdleTimer)
      return
    }
    if (now - this.pongDeadline > LATE_TIMER_THRESHOLD && !this.graceUsed) {
      this.graceUsed = true
      this.ping()
      return
    }
    this.stop()
    this.options.onDead()
  }
}
