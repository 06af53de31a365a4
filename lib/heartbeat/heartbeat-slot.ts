import type { EpochLog } from './epoch-log.js'
import type { HeartbeatSettings } from './heartbeat-settings.js'

/** What the heartbeat manager drives; the plugin's connection implements it. */
export interface HeartbeatPeer {
  /** Send an RFC 6455 ping. Called at most once per `pingInterval`; keep it cheap (a prebuilt frame). */
  sendPing (): void
  /** The peer stayed silent for `pongTimeout` after a ping: destroy the socket without a close handshake. */
  terminate (cause: 'timeout'): void
  /** No application message for `idleTimeout`: close with `CloseCode.IDLE_TIMEOUT`. */
  closeIdle (): void
}

/** @internal What a slot reports its pongs to: the manager. */
export interface SlotOwner {
  /** @returns true when the pong answered a ping and gave a new round-trip sample */
  pongReceived (slot: HeartbeatSlot): boolean
}

/**
 * @internal A route's settings as the manager keeps them (one object per settings object), with
 * what it derives from them once.
 */
export interface SlotSettings extends HeartbeatSettings {
  /** Silence that always allows a ping, in ms: `pingInterval` minus the settings' own tick. */
  readonly lead: number
}

/** `pingEpoch` / `rtt` value meaning "none". */
export const NONE = -1

/**
 * The manager's state for one connection, returned by `HeartbeatManager.add`. The connection
 * keeps it and reports inbound traffic through it; `touch()` and `touchMessage()` are one or two
 * field writes (the current epoch number, see `EpochLog`), with no clock read.
 *
 * Every field holds a small integer or a reference: V8 then keeps the slot at one fixed layout
 * (a field that starts as an integer and later holds fractional milliseconds changes the layout
 * and costs a number box per field and, on many slots, an extra property array).
 */
export class HeartbeatSlot {
  /** @internal */ wheelNext: HeartbeatSlot | null = null
  /** @internal */ wheelPrev: HeartbeatSlot | null = null
  /** @internal */ wheelBucket = -1
  /** @internal Epoch of the last inbound frame of any kind. */
  lastActive: number
  /** @internal Epoch of the last application message. */
  lastMessage: number
  /**
   * @internal Epoch in which the last ping not yet answered by a pong went out, or -1. The ping
   * waits for an answer while `lastActive < pingEpoch`: any frame answers it, a pong also ends it.
   */
  pingEpoch = NONE
  /** @internal When that ping went out: µs after its epoch began, rounded up. */
  pingOffset = 0
  /** @internal Round trip of the last ping answered by a pong, in µs, or -1. */
  rtt = NONE
  /** The peer this slot belongs to. */
  readonly peer: HeartbeatPeer
  /** @internal The settings this connection runs with. */
  readonly settings: SlotSettings
  readonly #epochs: EpochLog
  readonly #owner: SlotOwner

  /** @internal Use `HeartbeatManager.add`. */
  constructor (owner: SlotOwner, epochs: EpochLog, peer: HeartbeatPeer, settings: SlotSettings) {
    this.#owner = owner
    this.#epochs = epochs
    this.peer = peer
    this.settings = settings
    this.lastActive = epochs.current
    this.lastMessage = epochs.current
  }

  /** Any inbound frame (a message, a pong, a protocol or app-level ping): proof of life. */
  touch (): void {
    this.lastActive = this.#epochs.current
  }

  /** An application message: proof of life, and it restarts the idle timeout. */
  touchMessage (): void {
    const epoch = this.#epochs.current
    this.lastActive = epoch
    this.lastMessage = epoch
  }

  /**
   * A protocol pong: proof of life, and the round trip of the outstanding ping.
   * @returns true when it answered a ping and {@link lastRtt} holds its new round trip
   */
  pong (): boolean {
    return this.#owner.pongReceived(this)
  }

  /** Round trip of the last answered ping, in ms from sending it to its pong; `undefined` before the first. */
  get lastRtt (): number | undefined {
    return this.rtt === NONE ? undefined : this.rtt / 1000
  }

  /** True while the manager watches this connection. */
  get isWatched (): boolean {
    return this.wheelBucket !== -1
  }
}
