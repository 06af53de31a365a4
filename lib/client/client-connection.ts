/**
 * One WebSocket of the client, from its opening to its close, with what lives and dies with it:
 * the handshake timer, the ack scheduler and the heartbeat.
 */
import { AckScheduler, type AckSource, type ClearTimer, type SetTimer } from '../protocol/ack-scheduler.js'
import { encodePing } from '../protocol/app-ping.js'
import { truncateCloseReason } from '../protocol/close-codes.js'
import { encodeAck, type Payload } from '../protocol/frames.js'
import type { ResumePosition, Welcome } from '../protocol/handshake.js'
import type { CloseInfo, WebSocketLike } from './client-options.js'
import { LivenessMonitor } from './liveness.js'

/** What a {@link ClientConnection} reports to the client. */
export interface ConnectionHandlers {
  open (connection: ClientConnection): void
  message (connection: ClientConnection, data: unknown): void
  error (connection: ClientConnection, event: unknown): void
  close (connection: ClientConnection, info: CloseInfo): void
  /** No welcome arrived within `handshakeTimeout`. */
  handshakeTimeout (connection: ClientConnection): void
}

/** Timers and clock of a {@link ClientConnection}. */
export interface ConnectionTimers {
  setTimer: SetTimer
  clearTimer: ClearTimer
  now: () => number
}

/**
 * Wraps a socket that was just constructed. Events keep being reported after {@link stop}; the
 * client ignores those of a connection that is no longer its current one.
 */
export class ClientConnection {
  /** The socket, with `binaryType` set to `'arraybuffer'`. */
  readonly socket: WebSocketLike
  /** Settles when the socket reports its close. */
  readonly closed: Promise<void>
  /** What the hello carried, to check the welcome against. */
  resume: ResumePosition | undefined = undefined
  /** True once the welcome was accepted. */
  welcomed = false
  /** Set by {@link established}. */
  acks: AckScheduler | undefined = undefined
  /** Set by {@link established} when the welcome asks for a heartbeat. */
  liveness: LivenessMonitor | undefined = undefined
  private readonly timers: ConnectionTimers
  private handshakeTimer: unknown

  constructor (socket: WebSocketLike, handshakeTimeout: number, timers: ConnectionTimers, handlers: ConnectionHandlers) {
    this.socket = socket
    this.timers = timers
    socket.binaryType = 'arraybuffer'
    let markClosed = (): void => {}
    this.closed = new Promise<void>((resolve) => { markClosed = resolve })
    this.handshakeTimer = timers.setTimer(() => {
      this.handshakeTimer = undefined
      handlers.handshakeTimeout(this)
    }, handshakeTimeout)
    socket.addEventListener('open', () => handlers.open(this))
    socket.addEventListener('message', (event) => handlers.message(this, event.data))
    socket.addEventListener('error', (event) => handlers.error(this, event))
    socket.addEventListener('close', (event) => {
      markClosed()
      handlers.close(this, { code: event.code, reason: event.reason })
    })
  }

  /**
   * The welcome was accepted: stop the handshake timer, start acknowledging deliveries from
   * `source`, and start the heartbeat when both `pingInterval` and `pongTimeout` are above 0.
   * @param onDead - called when the heartbeat finds the server silent (docs/CLIENT.md, "Heartbeat")
   */
  established (welcome: Welcome, source: AckSource, onDead: () => void): void {
    this.clearHandshakeTimer()
    this.welcomed = true
    const { setTimer, clearTimer, now } = this.timers
    this.acks = new AckScheduler({
      source, sendAck: (seq) => this.transmit(encodeAck(seq)), ackInterval: welcome.ackInterval, ackEvery: welcome.ackEvery, setTimer, clearTimer
    })
    if (welcome.pingInterval > 0 && welcome.pongTimeout > 0) {
      this.liveness = new LivenessMonitor({
        pingInterval: welcome.pingInterval,
        pongTimeout: welcome.pongTimeout,
        sendPing: (token) => this.transmit(encodePing(token)),
        onDead,
        now,
        setTimer,
        clearTimer
      })
      this.liveness.start()
    }
  }

  /** {@link transmit} as a function made once, for the session to send through. */
  readonly transmitter = (frame: Payload): void => this.transmit(frame)

  /** Send one frame. */
  transmit (frame: Payload): void {
    try {
      this.socket.send(frame)
    } catch {
      // The socket is closing: its close event follows, and the resume replays the frame.
    }
  }

  /** Start the close handshake, best effort, with a reason cut to 123 bytes. */
  close (info: CloseInfo): void {
    try {
      this.socket.close(info.code, truncateCloseReason(info.reason))
    } catch {
      // A socket that failed already may refuse to close again.
    }
  }

  /** Stop every timer of this connection (pending acks stay pending: the next hello covers them). */
  stop (): void {
    this.clearHandshakeTimer()
    this.acks?.stop()
    this.liveness?.stop()
  }

  private clearHandshakeTimer (): void {
    if (this.handshakeTimer === undefined) return
    this.timers.clearTimer(this.handshakeTimer)
    this.handshakeTimer = undefined
  }
}
