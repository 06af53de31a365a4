import { FRWS_ERR_MESSAGE_TOO_BIG, FRWS_ERR_SESSION_ENDED } from '../errors.js'
import type { ConnectionGuard } from '../limits/connection-guard.js'
import { messageOut, publishLimitHit, publishMessageOut } from '../metrics/publish.js'
import { CloseCode } from '../protocol/close-codes.js'
import { dataFrameHeader } from '../protocol/frames.js'
import type { Payload } from '../protocol/frames.js'
import type { OutboundLog } from '../protocol/outbound-log.js'
import type { ReliableConnection, ReliableHost } from './reliable-connection.js'
import { noop, rejected, withTimeout } from './send-promises.js'
import { ARENA_MAX_FRAME_BYTES, ARENA_MIN_FRAME_BYTES, FrameArena } from './frame-arena.js'
import { encodeServerFrame, keptAsBytes } from './server-frames.js'
import { frameHeldBytes, sessionBytes, wireBytes } from './session-budget.js'
import type { SessionShare } from './session-budget.js'
import type { SessionLifetime } from './session-lifetime.js'
import type { SessionWriter } from './session-writer.js'

/** @internal What a {@link SessionSender} numbers, charges and writes through. */
export interface SenderParts {
  readonly host: ReliableHost
  readonly outbound: OutboundLog
  readonly share: SessionShare
  readonly writer: SessionWriter
  readonly lifetime: SessionLifetime
  /** The connection's backpressure guard: a client that acks without reading is cut (4420). */
  readonly guard: ConnectionGuard
}

/**
 * @internal The outgoing side of a reliable session: numbers each data, request and response frame,
 * checks it against `maxPayload`, `maxUnacked` and the memory budget, keeps it in the outbound log
 * until the client acknowledges it, and writes it to the current transport, or, when the store
 * must record it first (`SessionStore.outlivesProcess`), once the store has committed it.
 */
export class SessionSender {
  readonly #connection: ReliableConnection<object>
  readonly #parts: SenderParts
  /** True when messages reach the transport only once the store recorded them (docs/SCALE-OUT.md, "Durability rule"). */
  readonly #holdUntilCommitted: boolean
  /** Highest seq written to the current transport (used while {@link #holdUntilCommitted}). */
  #writtenSeq: number
  /** Where long frames get their bytes. */
  readonly #arena = new FrameArena()

  constructor (connection: ReliableConnection<object>, parts: SenderParts, serverSeq: number) {
    this.#connection = connection
    this.#parts = parts
    this.#holdUntilCommitted = parts.host.store.outlivesProcess === true
    this.#writtenSeq = serverSeq
  }

  /**
   * Number, keep and (unless held for the store) write one frame. Resolves on the client's ack;
   * rejects when the session ends first, the frame is too big, the session overflows, or after
   * `timeout` ms.
   */
  sequenced (type: 'D' | 'Q' | 'R' | 'E', ref: number, payload: Payload, timeout: number | undefined): Promise<void> {
    const connection = this.#connection
    const { host, outbound, share } = this.#parts
    if (connection.isEnded) return rejected(new FRWS_ERR_SESSION_ENDED(connection.sessionTag, 'closed'))
    const seq = outbound.nextSeq
    const header = dataFrameHeader(type, seq, ref)
    // Measured on the payload: measuring the string `header + payload` would flatten it into a copy.
    const wireSize = header.length + wireBytes(payload)
    const maxPayload = host.maxPayload
    if (wireSize > maxPayload) {
      const error = new FRWS_ERR_MESSAGE_TOO_BIG(wireSize, maxPayload)
      connection.log.warn({ session: connection.sessionTag, size: wireSize, maxPayload }, 'reliable frame over maxPayload not sent')
      // A request is still answered ([R-SZ-2]): with an error response saying why, instead of the oversized response.
      if (type !== 'R') return rejected(error)
      void this.sequenced('E', ref, `response of ${wireSize} bytes exceeds maxPayload ${maxPayload}`, undefined)
      return rejected(error)
    }
    const arena = this.#arena
    arena.release(outbound.acked)
    let slack = arena.slack
    let fromArena = false
    if (wireSize >= ARENA_MIN_FRAME_BYTES && wireSize <= ARENA_MAX_FRAME_BYTES && keptAsBytes(payload)) {
      // From the arena only while its slack keeps the session within its budget.
      const slackWith = arena.slackWith(wireSize)
      if (sessionBytes(outbound.count + 1, outbound.bytes + wireSize + slackWith) <= host.budget.maxSessionBytes) {
        fromArena = true
        slack = slackWith
      }
    }
    const frame = encodeServerFrame(header, payload, wireSize, fromArena ? arena : undefined, seq)
    const size = frameHeldBytes(frame, wireSize)
    const held = sessionBytes(outbound.count + 1, outbound.bytes + size + slack)
    const fits = outbound.fits(size)
    if (!fits || held > host.budget.maxSessionBytes) {
      const error = new FRWS_ERR_SESSION_ENDED(connection.sessionTag, 'overflow')
      const limit = fits ? 'maxSessionBytes' : 'maxUnacked'
      publishLimitHit(connection, CloseCode.BUFFER_OVERFLOW, limit)
      connection.log.warn({ session: connection.sessionTag, limit, unacked: outbound.count, bytes: outbound.bytes, heldBytes: share.bytes }, 'reliable session buffer overflow')
      connection.closeWithCause(CloseCode.BUFFER_OVERFLOW, undefined, 'error')
      return rejected(error)
    }
    // Make room under the total budget; this session itself may be the oldest suspended one.
    if (!host.reclaim(held - share.bytes)) connection.shed('maxTotalBytes')
    if (connection.isEnded) return rejected(new FRWS_ERR_SESSION_ENDED(connection.sessionTag, 'shed'))
    let settle!: (error: Error | null) => void
    const promise = new Promise<void>((resolve, reject) => {
      settle = (error) => {
        if (error === null) return resolve()
        // Marked handled only when it rejects: a handler on every send would cost a promise and a
        // reaction job per acknowledged message.
        promise.catch(noop)
        reject(error)
      }
    })
    outbound.push(frame, size, settle)
    share.sync(outbound, arena.slack)
    this.#parts.writer.appended(seq, frame)
    const transport = connection.transport
    if (this.#parts.lifetime.attached && transport.readyState === 1 && !this.#holdUntilCommitted) {
      const before = transport.send(frame)
      if (messageOut.hasSubscribers) publishMessageOut(connection, frame)
      // A client that acks without reading is cut (4420); the message stays in the log for the resume.
      this.#parts.guard.checkBuffered(before)
    }
    if (timeout === undefined) return promise
    return withTimeout(promise, timeout)
  }

  /** After acks: stop counting what acknowledged frames held, and charge the session what it holds now. */
  syncShare (): void {
    const { outbound, share } = this.#parts
    this.#arena.release(outbound.acked)
    share.sync(outbound, this.#arena.slack)
  }

  /** Write an unnumbered control frame (ack, pong) while a transport carries the session. */
  control (frame: string): void {
    const transport = this.#connection.transport
    if (!this.#parts.lifetime.attached || transport.readyState !== 1) return
    const before = transport.send(frame)
    if (messageOut.hasSubscribers) publishMessageOut(this.#connection, frame)
    this.#parts.guard.checkBuffered(before)
  }

  /** After the welcome on a new transport: write what the client lacks after `clientDelivered` (what the store holds, when held for it). */
  replay (clientDelivered: number): void {
    const { outbound, writer } = this.#parts
    const ackedBefore = outbound.acked
    let frames = outbound.replayFrom(clientDelivered)
    if (this.#holdUntilCommitted) {
      frames = frames.slice(0, Math.max(0, writer.committed.serverSeq - clientDelivered))
      this.#writtenSeq = clientDelivered + frames.length
    }
    // The writer already knows every ack the log had; a fresh session's handshake writes nothing to the store (issue 12).
    if (clientDelivered > ackedBefore) writer.acked(clientDelivered)
    this.syncShare()
    if (frames.length === 0) return
    const transport = this.#connection.transport
    const before = transport.bufferedAmount
    for (const frame of frames) {
      transport.send(frame)
      if (messageOut.hasSubscribers) publishMessageOut(this.#connection, frame)
    }
    this.#parts.guard.checkBuffered(before)
  }

  /** The store committed a write: when frames are held for the store, write those it now holds. */
  writeCommitted (): void {
    if (!this.#holdUntilCommitted) return
    const { outbound, writer } = this.#parts
    const transport = this.#connection.transport
    const upTo = Math.min(writer.committed.serverSeq, outbound.lastSeq)
    if (transport.readyState !== 1 || upTo <= this.#writtenSeq) return
    // Not replayFrom(): that would count the frames already on the transport as acknowledged.
    const from = this.#writtenSeq
    const frames: Payload[] = []
    outbound.forEach((seq, frame) => { if (seq > from && seq <= upTo) frames.push(frame) })
    this.#writtenSeq = upTo
    const before = transport.bufferedAmount
    for (const frame of frames) {
      transport.send(frame)
      if (messageOut.hasSubscribers) publishMessageOut(this.#connection, frame)
    }
    this.#parts.guard.checkBuffered(before)
  }
}
