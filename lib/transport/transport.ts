import type { WsMessage, WsOutgoing } from '../connection-events.js'
import type { MetricsSubject } from '../metrics/publish.js'

/**
 * @internal The outgoing side of one carrier of a connection's frames: a `ws` socket today
 * (`ws-transport.ts`), an SSE or HTTP-streaming pair later. A connection (plain or reliable) drives
 * its carrier only through this interface; a reliable session moves from one transport to the next
 * on a resume. `readyState` follows the WebSocket constants (0 connecting, 1 open, 2 closing,
 * 3 closed), whatever the carrier.
 */
export interface Transport {
  /** 0 connecting, 1 open, 2 closing, 3 closed (the WebSocket constants). */
  readonly readyState: number
  /** Bytes accepted by {@link send} and not yet handed to the kernel. */
  readonly bufferedAmount: number
  /** True while reading is paused ({@link pause}). */
  readonly isPaused: boolean
  /**
   * Write one frame (strings as text, bytes as binary, text held as bytes, `TextFrameBytes`, as
   * text); the writes of one event-loop turn leave in
   * one batch. Returns {@link bufferedAmount} as it was before the write, for the backpressure
   * check, so the hot path makes one call per frame. Only while `readyState` is 1.
   */
  send (data: WsOutgoing): number
  /** A transport-level liveness probe whose answer reaches {@link TransportOwner.pongReceived}. */
  sendPing (): void
  /** Start the closing handshake; `reason` is cut to the carrier's limit (123 bytes for ws). */
  close (code: number, reason: string): void
  /** Close a transport the session has left (a resume elsewhere), and drop it if the peer does not answer within a bound. */
  closeWithinBound (code: number, reason: string): void
  /** Drop the carrier at once, without a closing handshake. */
  terminate (): void
  /** Stop reading incoming frames (backpressure towards the peer). */
  pause (): void
  /** Read incoming frames again. */
  resume (): void
  /** From now on, deliver this transport's incoming frames, close and errors to `owner`. */
  listen (owner: TransportOwner): void
}

/**
 * @internal What a transport calls on the connection it carries (the incoming side). A transport
 * delivers to its owner only while it is the owner's current {@link TransportOwner.transport}: a
 * reliable session may have moved on to another one. The calls are methods on the connection, not
 * closures, so a connection costs no functions and a message no allocation beyond its payload.
 */
export interface TransportOwner extends MetricsSubject {
  /** The transport currently carrying the connection; events of any other are ignored. */
  readonly transport: Transport
  /** Count an inbound frame of `bytes` against the rate limit; false: drop it (the connection is cut). */
  admit (bytes: number): boolean
  /** A message: text as a string, binary as a Buffer. */
  receive (message: WsMessage, isBinary: boolean): void
  /** The transport closed with `code` and the peer's (or our) reason. */
  socketClosed (code: number, reasonBytes: Buffer): void
  /** A transport-level pong arrived. */
  pongReceived (): void
  /** A transport-level ping of `bytes` payload bytes arrived (the transport has answered it). */
  pingReceived (bytes: number): void
  /** The transport reported a broken frame or limit and has begun closing with `sentCode` itself. */
  socketError (error: Error & { code?: string }, sentCode: number): void
}
