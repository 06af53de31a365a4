import type { WebSocket } from 'ws'
import type { WsOutgoing } from '../connection-events.js'
import { closeWithinBound } from '../bounded-close.js'
import { truncateCloseReason } from '../protocol/close-codes.js'
import { isTextFrame } from '../protocol/text-frame-bytes.js'
import type { Payload } from '../protocol/frames.js'
import { batchWrites, transportOf } from '../write-batcher.js'
import type { Transport, TransportOwner } from './transport.js'
import { listenToSocket } from './ws-listeners.js'

/**
 * An unmasked RFC 6455 ping with no payload (FIN + opcode 0x9, length 0). Server frames are never
 * masked, so every ping is these same two bytes; ws's `ping()` builds them anew each time. ws writes
 * whole frames synchronously, so writing between its writes always lands on a frame boundary.
 */
const PING_FRAME = Buffer.from([0x89, 0x00])

const TEXT: { binary: false } = { binary: false }

/** @internal The {@link Transport} over one upgraded `ws` socket: one small object per socket. */
export class WsTransport implements Transport {
  /** The `ws` socket (what `WsConnection.socket` exposes to applications). */
  readonly socket: WebSocket

  constructor (socket: WebSocket) {
    this.socket = socket
  }

  get readyState (): number {
    return this.socket.readyState
  }

  get bufferedAmount (): number {
    return this.socket.bufferedAmount
  }

  get isPaused (): boolean {
    return this.socket.isPaused
  }

  send (data: WsOutgoing): number {
    const socket = this.socket
    batchWrites(socket)
    const before = socket.bufferedAmount
    // Text a reliable session keeps as UTF-8 bytes (TextFrameBytes) still goes out as a text frame.
    if (typeof data === 'string' || !isTextFrame(data as Payload)) socket.send(data)
    else socket.send(data, TEXT)
    return before
  }

  sendPing (): void {
    const stream = transportOf(this.socket)
    if (this.socket.readyState === 1 && stream?.writable === true) stream.write(PING_FRAME)
  }

  close (code: number, reason: string): void {
    this.socket.close(code, truncateCloseReason(reason))
  }

  closeWithinBound (code: number, reason: string): void {
    closeWithinBound(this.socket, code, reason)
  }

  terminate (): void {
    this.socket.terminate()
  }

  pause (): void {
    this.socket.pause()
  }

  resume (): void {
    this.socket.resume()
  }

  listen (owner: TransportOwner): void {
    listenToSocket(this.socket, owner)
  }
}
