import { systemClock, type ClockTimer, type HeartbeatClock } from './clock.js'
import { EpochLog } from './epoch-log.js'
import {
  HEARTBEAT_DEFAULTS, checkHeartbeatSettings, heartbeatTickInterval, isHeartbeatActive, type HeartbeatSettings
} from './heartbeat-settings.js'
import { HeartbeatSlot, NONE, type HeartbeatPeer, type SlotSettings } from './heartbeat-slot.js'
import { TimerWheel } from './timer-wheel.js'

export { HeartbeatSlot, type HeartbeatPeer } from './heartbeat-slot.js'

/** Counters of a {@link HeartbeatManager}, as a plain object. */
export interface HeartbeatStats {
  /** Connections the manager watches now. */
  connections: number
  /** Protocol pings sent. */
  pingsSent: number
  /** Pings answered by a pong (at most one per ping; unsolicited pongs are not counted). */
  pongsReceived: number
  /** Connections terminated because nothing arrived within `pongTimeout` of a ping. */
  terminated: number
  /** Connections closed by the idle timeout. */
  idleClosed: number
  /** Current tick of the shared timer, in ms. */
  tickInterval: number
  /** Ticks processed so far. */
  ticks: number
  /** Connections examined by ticks so far: the manager's whole per-tick work, for tests and benchmarks. */
  visits: number
}

/** Options of a {@link HeartbeatManager}. */
export interface HeartbeatManagerOptions {
  /** Settings for connections added without their own. @default HEARTBEAT_DEFAULTS */
  defaults?: HeartbeatSettings
  /** Time source and timer factory. @default systemClock */
  clock?: HeartbeatClock
}

const MIN_WHEEL_SIZE = 16
const MAX_WHEEL_SIZE = 4096

/**
 * Finds dead and half-open peers with one shared, unref'd timer for all connections.
 *
 * Connections sit in a {@link TimerWheel} at the tick of their next possible event (ping, pong
 * deadline, idle timeout). Inbound traffic only writes the current epoch number (see
 * {@link EpochLog}); when a connection's tick comes, the manager turns its stamps into the latest
 * clock times they can stand for and decides on the clock: ping, terminate, close as idle, or move
 * the connection to its new tick (lazy rescheduling). A tick costs work only for the connections
 * that come due. docs/HEARTBEAT.md derives the bounds.
 */
export class HeartbeatManager {
  /** @internal Settings for connections added without their own. */
  readonly defaults: HeartbeatSettings
  readonly #clock: HeartbeatClock
  readonly #wheel: TimerWheel<HeartbeatSlot>
  readonly #epochs: EpochLog
  readonly #defaultTick: number
  readonly #defaultWheelSize: number
  /** The manager's copy of each settings object it was given (weak: a caller that makes one per connection leaks nothing). */
  readonly #profiles = new WeakMap<HeartbeatSettings, SlotSettings>()
  readonly #onTimer = (): void => this.#timerFired()
  readonly #onDeferred = (): void => {
    this.#passQueued = false
    this.#process()
  }

  readonly #onWakeUp = (): void => {
    this.#wakeUp = null
    this.#wakeUpAt = Infinity
    this.#wheel.releaseHeld()
    this.#queuePass()
  }

  #tick: number
  #maxDuration: number
  /** Clock time the current wheel tick stands for: its timer fire, or a little later when the timer fired early. */
  #anchor = 0
  #timer: ClockTimer | null = null
  /** One-shot timer for waits shorter than a tick: a pong deadline between ticks, a timer that fired early. */
  #wakeUp: ClockTimer | null = null
  #wakeUpAt = Infinity
  #passQueued = false
  #closed = false
  #connections = 0
  #pingsSent = 0
  #pongsReceived = 0
  #terminated = 0
  #idleClosed = 0
  #ticks = 0
  #visits = 0

  /** @internal @throws TypeError when `options.defaults` are invalid (see `checkHeartbeatSettings`). */
  constructor (options: HeartbeatManagerOptions = {}) {
    const defaults = options.defaults ?? HEARTBEAT_DEFAULTS
    const problem = checkHeartbeatSettings(defaults)
    if (problem !== undefined) throw new TypeError(`heartbeat defaults: ${problem}`)
    this.defaults = defaults
    this.#clock = options.clock ?? systemClock
    this.#defaultTick = heartbeatTickInterval(defaults)
    this.#tick = this.#defaultTick
    this.#maxDuration = longestDuration(defaults)
    this.#defaultWheelSize = wheelSize(this.#maxDuration, this.#tick)
    this.#wheel = new TimerWheel(this.#defaultWheelSize)
    this.#epochs = new EpochLog(epochLogSize(this.#maxDuration, this.#tick), this.#clock.now())
  }

  /**
   * Start watching a connection; it counts as active now. Keep the returned slot, report traffic
   * through it and pass it to {@link remove} when the connection closes. With settings that turn
   * pings and the idle timeout off, or after {@link close}, the slot is returned but not watched.
   * @param settings - this connection's settings, valid per `checkHeartbeatSettings`; share one
   *   object per route. @default this.defaults
   * @internal
   */
  add (peer: HeartbeatPeer, settings: HeartbeatSettings = this.defaults): HeartbeatSlot {
    const profile = this.#profile(settings)
    if (this.#closed || !isHeartbeatActive(settings)) return new HeartbeatSlot(this, this.#epochs, peer, profile)
    this.#fit(settings)
    this.#connections++
    const now = this.#clock.now()
    if (this.#timer === null) {
      // A fresh epoch: the current one may have begun long ago, before the timer last stopped.
      this.#epochs.begin(now)
      this.#anchor = now
      this.#timer = this.#clock.setInterval(this.#onTimer, this.#tick)
    }
    const slot = new HeartbeatSlot(this, this.#epochs, peer, profile)
    this.#schedule(slot, now)
    return slot
  }

  /** @internal Stop watching a connection (on close). O(1); removing twice or an unwatched slot does nothing. */
  remove (slot: HeartbeatSlot): void {
    if (this.#wheel.isScheduled(slot)) this.#detach(slot)
  }

  /** The counters, as a new plain object. */
  stats (): HeartbeatStats {
    return {
      connections: this.#connections,
      pingsSent: this.#pingsSent,
      pongsReceived: this.#pongsReceived,
      terminated: this.#terminated,
      idleClosed: this.#idleClosed,
      tickInterval: this.#tick,
      ticks: this.#ticks,
      visits: this.#visits
    }
  }

  /** @internal Stop the timers and forget every connection without calling them; later `add()`s watch nothing. */
  close (): void {
    this.#closed = true
    for (const slot of this.#wheel.clear()) slot.pingEpoch = NONE
    this.#connections = 0
    this.#stopTimers()
  }

  /** @internal Called by {@link HeartbeatSlot.pong}. */
  pongReceived (slot: HeartbeatSlot): boolean {
    const waiting = slot.lastActive < slot.pingEpoch
    slot.lastActive = this.#epochs.current
    if (slot.pingEpoch === NONE) return false
    const now = this.#clock.now()
    const sampled = this.#epochs.keeps(slot.pingEpoch)
    if (sampled) slot.rtt = Math.max(0, Math.round((now - this.#pingSentAt(slot)) * 1000))
    slot.pingEpoch = NONE
    this.#pongsReceived++
    // Move the slot from its pong-deadline tick to its next ping tick: saves a visit per ping.
    if (waiting) this.#schedule(slot, now)
    return sampled
  }

  /** Begin a new epoch and tick now, so frames read from here on count in it; do the tick's work after pending input. */
  #timerFired (): void {
    const now = this.#clock.now()
    let advance = Math.floor((now - this.#anchor) / this.#tick)
    if (advance < 1) {
      // Fired a little early (timer jitter): advance one tick anyway; the work waits for the clock (#process).
      advance = 1
      this.#anchor += this.#tick
    } else {
      this.#anchor = now
    }
    this.#epochs.begin(now)
    this.#ticks++
    this.#wheel.advance(this.#wheel.current + advance)
    this.#queuePass()
  }

  #queuePass (): void {
    if (this.#clock.defer === undefined) {
      this.#process()
    } else if (!this.#passQueued) {
      this.#passQueued = true
      this.#clock.defer(this.#onDeferred)
    }
  }

  /** Visit every due connection, deciding on one clock reading taken after pending input was read. */
  #process (): void {
    if (this.#connections === 0) return
    const now = this.#clock.now()
    if (now < this.#anchor) {
      // Every due connection is due by the anchor: wait for the clock to get there.
      this.#wakeUpBy(this.#anchor, now)
      return
    }
    let failed = false
    let failure: unknown
    for (let slot = this.#wheel.takeDue(); slot !== null; slot = this.#wheel.takeDue()) {
      this.#visits++
      try {
        this.#visit(slot, now)
      } catch (error) {
        // Finish the tick so no connection is left unscheduled, then surface the peer's bug.
        if (!failed) failure = error
        failed = true
      }
    }
    if (failed) throw failure
  }

  /** Act on a due connection: terminate, close as idle, ping, or just reschedule. */
  #visit (slot: HeartbeatSlot, now: number): void {
    const settings = slot.settings
    // A frame stamped in the ping's epoch was read after the ping: before it, the connection was not due for one.
    const waiting = slot.lastActive < slot.pingEpoch
    if (waiting && now - this.#pingSentAt(slot) >= settings.pongTimeout) {
      this.#detach(slot)
      this.#terminated++
      slot.peer.terminate('timeout')
      return
    }
    if (settings.idleTimeout > 0 && now - this.#epochs.latest(slot.lastMessage, now) >= settings.idleTimeout) {
      this.#detach(slot)
      this.#idleClosed++
      slot.peer.closeIdle()
      return
    }
    if (!waiting && settings.pingInterval > 0 &&
      now >= this.#pingDue(slot.lastActive, settings, this.#epochs.latest(slot.lastActive, now))) {
      const sentAt = this.#clock.now()
      slot.pingEpoch = this.#epochs.current
      slot.pingOffset = Math.ceil((sentAt - this.#epochs.start(slot.pingEpoch)) * 1000)
      this.#pingsSent++
      this.#schedule(slot, sentAt)
      slot.peer.sendPing()
      return
    }
    this.#schedule(slot, now)
  }

  /** Clock time the slot's last ping went out, never earlier than the write. */
  #pingSentAt (slot: HeartbeatSlot): number {
    return this.#epochs.start(slot.pingEpoch) + slot.pingOffset / 1000
  }

  /** Put a slot where its earliest possible event is met: later traffic can only postpone it. */
  #schedule (slot: HeartbeatSlot, now: number): void {
    const { pingInterval, pongTimeout, idleTimeout } = slot.settings
    let tick = Infinity
    if (pingInterval > 0) {
      if (slot.lastActive < slot.pingEpoch) {
        const deadline = this.#pingSentAt(slot) + pongTimeout
        if (deadline - now < this.#tick) {
          this.#wheel.hold(slot)
          this.#wakeUpBy(deadline, now)
          return
        }
        // Waiting for an answer: the tick before the deadline (then a short wait), or a ping if traffic arrives from now on.
        tick = Math.min(this.#tickAtOrBefore(deadline), this.#tickAtOrAfter(this.#pingDue(this.#epochs.current, slot.settings, now)))
      } else {
        tick = this.#tickAtOrAfter(this.#pingDue(slot.lastActive, slot.settings, this.#latest(slot.lastActive, now)))
      }
    }
    if (idleTimeout > 0) tick = Math.min(tick, this.#tickAtOrAfter(this.#latest(slot.lastMessage, now) + idleTimeout))
    this.#wheel.schedule(slot, tick)
  }

  /**
   * When a connection whose last frame is stamped `epoch` becomes due for a ping, given the latest
   * time that frame can have been read: `pingInterval` after the epoch began, so the ping comes
   * no later than `pingInterval` after the frame; but never less than `pingInterval` minus the
   * settings' tick after `latest`, so a frame read within that much silence always prevents the
   * ping, also when a late timer made the epoch long.
   */
  #pingDue (epoch: number, settings: SlotSettings, latest: number): number {
    return Math.max(this.#epochs.start(epoch) + settings.pingInterval, latest + settings.lead)
  }

  /** Like `EpochLog.latest`, but the current epoch counts until its expected end, so a slot is not visited before it can be due. */
  #latest (epoch: number, now: number): number {
    return epoch >= this.#epochs.current ? Math.max(now, this.#anchor + this.#tick) : this.#epochs.latest(epoch, now)
  }

  /** The first tick that stands for a clock time >= `time`. */
  #tickAtOrAfter (time: number): number {
    return this.#wheel.current + Math.ceil((time - this.#anchor) / this.#tick)
  }

  /** The last tick that stands for a clock time <= `time`. */
  #tickAtOrBefore (time: number): number {
    return this.#wheel.current + Math.floor((time - this.#anchor) / this.#tick)
  }

  /** Run a pass (releasing the held slots) when the clock reaches `time`, unless one is due sooner. */
  #wakeUpBy (time: number, now: number): void {
    if (time >= this.#wakeUpAt) return
    this.#wakeUp?.clear()
    this.#wakeUpAt = time
    this.#wakeUp = this.#clock.setTimeout(this.#onWakeUp, Math.max(1, Math.ceil(time - now)))
  }

  #detach (slot: HeartbeatSlot): void {
    this.#wheel.unschedule(slot)
    slot.pingEpoch = NONE
    if (--this.#connections === 0) {
      this.#stopTimers()
      this.#maxDuration = longestDuration(this.defaults)
      if (this.#tick !== this.#defaultTick || this.#wheel.size !== this.#defaultWheelSize) {
        this.#retune(this.#defaultTick, this.#defaultWheelSize)
      }
    }
  }

  /** Shrink the tick and grow the wheel and the epoch log as far as `settings` need; never the other way while in use. */
  #fit (settings: HeartbeatSettings): void {
    const tick = gcd(this.#tick, heartbeatTickInterval(settings))
    this.#maxDuration = Math.max(this.#maxDuration, longestDuration(settings))
    const size = Math.max(this.#wheel.size, wheelSize(this.#maxDuration, tick))
    if (tick !== this.#tick || size !== this.#wheel.size) this.#retune(tick, size)
    else this.#epochs.resize(Math.max(this.#epochs.size, epochLogSize(this.#maxDuration, tick)))
  }

  /**
   * Change the tick size and/or wheel size and reschedule every connection: O(connections), rare.
   * The current tick keeps its anchor; the first fire of a restarted timer catches up the new ticks since.
   */
  #retune (tick: number, size: number): void {
    if (tick !== this.#tick && this.#timer !== null) {
      this.#timer.clear()
      this.#timer = this.#clock.setInterval(this.#onTimer, tick)
    }
    this.#tick = tick
    this.#epochs.resize(epochLogSize(this.#maxDuration, tick))
    const now = this.#clock.now()
    for (const slot of this.#wheel.drain(size)) this.#schedule(slot, now)
  }

  #profile (settings: HeartbeatSettings): SlotSettings {
    let profile = this.#profiles.get(settings)
    if (profile === undefined) {
      const { pingInterval, pongTimeout, idleTimeout } = settings
      profile = Object.freeze({ pingInterval, pongTimeout, idleTimeout, lead: pingInterval - heartbeatTickInterval(settings) })
      this.#profiles.set(settings, profile)
    }
    return profile
  }

  #stopTimers (): void {
    this.#timer?.clear()
    this.#timer = null
    this.#wakeUp?.clear()
    this.#wakeUp = null
    this.#wakeUpAt = Infinity
  }
}

/** The longest duration the settings use, in ms. */
function longestDuration (settings: HeartbeatSettings): number {
  const ping = settings.pingInterval > 0 ? Math.max(settings.pingInterval, settings.pongTimeout) : 0
  return Math.max(ping, settings.idleTimeout)
}

/** Buckets to hold `duration` ms of ticks plus rounding slack, as a power of two within limits. */
function wheelSize (duration: number, tick: number): number {
  const needed = Math.ceil(duration / tick) + 3
  let size = MIN_WHEEL_SIZE
  while (size < needed && size < MAX_WHEEL_SIZE) size *= 2
  return size
}

/**
 * Epoch starts to keep: twice the longest duration in ticks, so every stamp a decision needs still
 * resolves exactly (epochs last at least about a tick; a late timer only makes them longer).
 */
function epochLogSize (duration: number, tick: number): number {
  const needed = 2 * Math.ceil(duration / tick) + 8
  let size = MIN_WHEEL_SIZE
  while (size < needed) size *= 2
  return size
}

function gcd (a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}
