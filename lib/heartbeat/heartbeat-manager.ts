import { systemClock, type HeartbeatClock, type RepeatingTimer } from './clock.js'
import {
  HEARTBEAT_DEFAULTS, checkHeartbeatSettings, heartbeatTickInterval, isHeartbeatActive, type HeartbeatSettings
} from './heartbeat-settings.js'
import { TimerWheel, type WheelEntry } from './timer-wheel.js'

/** What the heartbeat manager drives; the plugin's connection implements it. */
export interface HeartbeatPeer {
  /** Send an RFC 6455 ping. Called at most once per `pingInterval`; keep it cheap (a prebuilt frame). */
  sendPing (): void
  /** The peer stayed silent for `pongTimeout` after a ping: destroy the socket without a close handshake. */
  terminate (cause: 'timeout'): void
  /** No application message for `idleTimeout`: close with `CloseCode.IDLE_TIMEOUT`. */
  closeIdle (): void
}

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

/** `pingAt` / `pingSentAt` value meaning "no ping outstanding". */
const NONE = -1
const MIN_WHEEL_SIZE = 16
const MAX_WHEEL_SIZE = 4096

/**
 * The manager's state for one connection, returned by {@link HeartbeatManager.add}. The connection
 * keeps it and reports inbound traffic through it; each report is one or two field writes.
 */
export class HeartbeatSlot implements WheelEntry<HeartbeatSlot> {
  /** @internal */ wheelNext: HeartbeatSlot | null = null
  /** @internal */ wheelPrev: HeartbeatSlot | null = null
  /** @internal */ wheelBucket = -1
  /** @internal Heartbeat time of the last inbound frame of any kind. */
  lastActive: number
  /** @internal Heartbeat time of the last application message. */
  lastMessage: number
  /** @internal Heartbeat time of the ping not yet followed by traffic, or -1. */
  pingAt = NONE
  /** @internal Clock time the last unanswered ping went out (for the round trip), or -1. */
  pingSentAt = NONE
  /** Round trip of the last answered ping, in ms from sending it to its pong; `undefined` before the first. */
  lastRtt: number | undefined = undefined
  /** The peer this slot belongs to. */
  readonly peer: HeartbeatPeer
  /** The settings this connection runs with. */
  readonly settings: HeartbeatSettings
  readonly #manager: HeartbeatManager

  /** @internal Use {@link HeartbeatManager.add}. */
  constructor (manager: HeartbeatManager, peer: HeartbeatPeer, settings: HeartbeatSettings) {
    this.#manager = manager
    this.peer = peer
    this.settings = settings
    this.lastActive = manager.now
    this.lastMessage = manager.now
  }

  /** Any inbound frame (a message, a pong, a protocol or app-level ping): proof of life. */
  touch (): void {
    this.lastActive = this.#manager.now
  }

  /** An application message: proof of life, and it restarts the idle timeout. */
  touchMessage (): void {
    const now = this.#manager.now
    this.lastActive = now
    this.lastMessage = now
  }

  /** A protocol pong: proof of life, and the round trip of the outstanding ping. */
  pong (): void {
    this.#manager.pongReceived(this)
  }

  /** True while the manager watches this connection. */
  get isWatched (): boolean {
    return this.wheelBucket !== -1
  }
}

/**
 * Finds dead and half-open peers with one shared, unref'd timer for all connections.
 *
 * Connections sit in a {@link TimerWheel} at the tick of their next possible event (ping, pong
 * deadline, idle timeout). Inbound traffic only writes a timestamp; when a connection's tick comes
 * and it has been active since, it is moved to its new tick without a ping (lazy rescheduling), so
 * a tick costs work only for the connections that come due. docs/HEARTBEAT.md derives the bounds.
 */
export class HeartbeatManager {
  /** Settings for connections added without their own. */
  readonly defaults: HeartbeatSettings
  readonly #clock: HeartbeatClock
  readonly #wheel: TimerWheel<HeartbeatSlot>
  readonly #defaultTick: number
  readonly #defaultWheelSize: number
  readonly #onTimer = (): void => this.#timerFired()
  readonly #onDeferred = (): void => this.#processDue()
  #tick: number
  #maxDuration: number
  /** Heartbeat time: advances by whole ticks, never faster than the clock. */
  #now = 0
  /** Tick number `#baseTick` happened at heartbeat time `#base` (they move when the tick size changes). */
  #base = 0
  #baseTick = 0
  #timer: RepeatingTimer | null = null
  /** Clock time the heartbeat time was last advanced to (may run ahead of the clock by timer jitter). */
  #lastFire = 0
  /** Clock reading at the last timer fire. */
  #fireTime = 0
  #closed = false
  #connections = 0
  #pingsSent = 0
  #pongsReceived = 0
  #terminated = 0
  #idleClosed = 0
  #ticks = 0
  #visits = 0

  /** @throws TypeError when `options.defaults` are invalid (see `checkHeartbeatSettings`). */
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
  }

  /** Heartbeat time in ms: what slots record on traffic. Not wall-clock time. */
  get now (): number {
    return this.#now
  }

  /**
   * Start watching a connection; it counts as active now. Keep the returned slot, report traffic
   * through it and pass it to {@link remove} when the connection closes. With settings that turn
   * pings and the idle timeout off, or after {@link close}, the slot is returned but not watched.
   * @param settings - this connection's settings, valid per `checkHeartbeatSettings`; share one
   *   object per route. @default this.defaults
   */
  add (peer: HeartbeatPeer, settings: HeartbeatSettings = this.defaults): HeartbeatSlot {
    const watched = !this.#closed && isHeartbeatActive(settings)
    // Fit first: a finer tick brings heartbeat time up to date, and the slot records it as its first activity.
    if (watched) this.#fit(settings)
    const slot = new HeartbeatSlot(this, peer, settings)
    if (!watched) return slot
    this.#connections++
    this.#schedule(slot)
    if (this.#timer === null) {
      this.#lastFire = this.#clock.now()
      this.#timer = this.#clock.setInterval(this.#onTimer, this.#tick)
    }
    return slot
  }

  /** Stop watching a connection (on close). O(1); removing twice or an unwatched slot does nothing. */
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

  /** Stop the timer and forget every connection without calling them; later `add()`s watch nothing. */
  close (): void {
    this.#closed = true
    for (const slot of this.#wheel.drain()) slot.pingSentAt = NONE
    for (let slot = this.#wheel.takeDue(); slot !== null; slot = this.#wheel.takeDue()) slot.pingSentAt = NONE
    this.#connections = 0
    this.#stopTimer()
  }

  /** @internal Called by {@link HeartbeatSlot.pong}. */
  pongReceived (slot: HeartbeatSlot): void {
    slot.lastActive = this.#now
    if (slot.pingSentAt === NONE) return
    slot.lastRtt = this.#clock.now() - slot.pingSentAt
    slot.pingSentAt = NONE
    this.#pongsReceived++
    if (slot.pingAt !== NONE) {
      // Move the slot from its pong-deadline tick to its next ping tick: saves a visit per ping.
      slot.pingAt = NONE
      this.#schedule(slot)
    }
  }

  /** Advance heartbeat time now, so frames read from here on count at it; do the tick's work after pending input. */
  #timerFired (): void {
    const now = this.#clock.now()
    this.#fireTime = now
    let advance = Math.floor((now - this.#lastFire) / this.#tick)
    if (advance < 1) {
      // Fired a little early (timer jitter): advance one tick and owe the difference to the next fire.
      advance = 1
      this.#lastFire += this.#tick
    } else {
      // A late timer catches up whole ticks; dropping the remainder keeps heartbeat time behind the clock.
      this.#lastFire = now
    }
    this.#now += advance * this.#tick
    this.#ticks++
    this.#wheel.advance(this.#wheel.current + advance)
    if (this.#clock.defer === undefined) this.#processDue()
    else this.#clock.defer(this.#onDeferred)
  }

  #processDue (): void {
    let failed = false
    let failure: unknown
    for (let slot = this.#wheel.takeDue(); slot !== null; slot = this.#wheel.takeDue()) {
      this.#visits++
      try {
        this.#visit(slot)
      } catch (error) {
        // Finish the tick so no connection is left unscheduled, then surface the peer's bug.
        if (!failed) failure = error
        failed = true
      }
    }
    if (failed) throw failure
  }

  /** Act on a connection whose tick came: terminate, close as idle, ping, or just reschedule. */
  #visit (slot: HeartbeatSlot): void {
    const settings = slot.settings
    const now = this.#now
    if (slot.pingAt !== NONE) {
      if (slot.lastActive >= slot.pingAt) {
        slot.pingAt = NONE
      } else if (now - slot.pingAt >= settings.pongTimeout) {
        if (this.#fireTime - slot.pingSentAt < settings.pongTimeout) {
          // Timer jitter put heartbeat time ahead of the clock: the peer still gets its full pongTimeout.
          this.#wheel.schedule(slot, this.#wheel.current + 1)
          return
        }
        this.#detach(slot)
        this.#terminated++
        slot.peer.terminate('timeout')
        return
      }
    }
    // One tick of slack: lastMessage can be up to a tick older than the message itself.
    if (settings.idleTimeout > 0 && now - slot.lastMessage >= settings.idleTimeout + this.#tick) {
      this.#detach(slot)
      this.#idleClosed++
      slot.peer.closeIdle()
      return
    }
    // Ping at the last tick that is not later than pingInterval after the last traffic.
    if (slot.pingAt === NONE && settings.pingInterval > 0 && now - slot.lastActive > settings.pingInterval - this.#tick) {
      slot.pingAt = now
      slot.pingSentAt = this.#clock.now()
      this.#pingsSent++
      this.#schedule(slot)
      slot.peer.sendPing()
      return
    }
    this.#schedule(slot)
  }

  /** Put a slot at the tick of its earliest possible event; later traffic can only postpone it. */
  #schedule (slot: HeartbeatSlot): void {
    const { pingInterval, pongTimeout, idleTimeout } = slot.settings
    let tick = Infinity
    if (pingInterval > 0) {
      if (slot.pingAt !== NONE && slot.lastActive < slot.pingAt) {
        // Waiting for an answer: the deadline, or an earlier ping if traffic arrives from now on.
        tick = Math.min(this.#tickAtOrAfter(slot.pingAt + pongTimeout), this.#tickAfter(this.#now + pingInterval - this.#tick))
      } else {
        tick = this.#tickAfter(slot.lastActive + pingInterval - this.#tick)
      }
    }
    if (idleTimeout > 0) tick = Math.min(tick, this.#tickAtOrAfter(slot.lastMessage + idleTimeout + this.#tick))
    this.#wheel.schedule(slot, tick)
  }

  /** The first tick whose heartbeat time is >= `time`. */
  #tickAtOrAfter (time: number): number {
    return this.#baseTick + Math.ceil((time - this.#base) / this.#tick)
  }

  /** The first tick whose heartbeat time is > `time`. */
  #tickAfter (time: number): number {
    return this.#baseTick + Math.floor((time - this.#base) / this.#tick) + 1
  }

  #detach (slot: HeartbeatSlot): void {
    this.#wheel.unschedule(slot)
    slot.pingSentAt = NONE
    if (--this.#connections === 0) {
      this.#stopTimer()
      this.#maxDuration = longestDuration(this.defaults)
      if (this.#tick !== this.#defaultTick || this.#wheel.size !== this.#defaultWheelSize) {
        this.#retune(this.#defaultTick, this.#defaultWheelSize)
      }
    }
  }

  /** Shrink the tick and grow the wheel as far as `settings` need; never the other way while in use. */
  #fit (settings: HeartbeatSettings): void {
    const tick = gcd(this.#tick, heartbeatTickInterval(settings))
    this.#maxDuration = Math.max(this.#maxDuration, longestDuration(settings))
    const size = Math.max(this.#wheel.size, wheelSize(this.#maxDuration, tick))
    if (tick !== this.#tick || size !== this.#wheel.size) this.#retune(tick, size)
  }

  /** Change the tick size and/or wheel size and reschedule every connection: O(connections), rare. */
  #retune (tick: number, size: number): void {
    const tickChanged = tick !== this.#tick
    if (tickChanged && this.#timer !== null) {
      // Catch up the whole new ticks since the last timer fire, so new slots do not start a coarse tick behind.
      const caught = Math.floor((this.#clock.now() - this.#lastFire) / tick)
      this.#now += caught * tick
      this.#lastFire += caught * tick
      this.#timer.clear()
      this.#timer = this.#clock.setInterval(this.#onTimer, tick)
    }
    this.#base = this.#now
    this.#baseTick = this.#wheel.current
    this.#tick = tick
    // Slots whose events became due in the catch-up land on the next tick (the wheel clamps).
    for (const slot of this.#wheel.drain(size)) this.#schedule(slot)
  }

  #stopTimer (): void {
    this.#timer?.clear()
    this.#timer = null
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

function gcd (a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}
