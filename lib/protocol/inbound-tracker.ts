/**
 * The receiver side of one direction of a reliable session: dedupe, gap detection and the position
 * to acknowledge (docs/PROTOCOL.md, "Sequencing").
 *
 * This module must stay free of Node-only imports: the browser client bundles it.
 */
import { CloseCode } from './close-codes.js'
import { ProtocolError } from './protocol-error.js'

/** What to do with a received sequenced frame. */
export type AcceptResult = 'deliver' | 'duplicate'

/**
 * Tracks the highest seq delivered to the application and the highest acknowledged to the peer.
 *
 * Rules for a frame with seq `s`, `d` being the highest delivered seq:
 * - `s === d + 1`: deliver it (the handler runs once per message);
 * - `s <= d`: a duplicate from a replay; drop it (it still may not go backwards, see below);
 * - `s > d + 1`: a gap, a protocol error (4400);
 * - on one connection seqs strictly increase: `s` at or below the previous seq of the same
 *   connection is a protocol error (4400), so duplicates can only open a connection.
 */
export class InboundTracker {
  private deliveredSeq: number
  private ackedSeq: number
  private connectionHigh = 0

  /**
   * @param delivered - the highest seq already delivered: 0 for a new session, the stored value
   *   when rebuilt from a session store
   */
  constructor (delivered = 0) {
    if (!Number.isSafeInteger(delivered) || delivered < 0) throw new TypeError('delivered must be a non-negative integer')
    this.deliveredSeq = delivered
    this.ackedSeq = delivered
  }

  /** The highest seq delivered to the application (0 when none). */
  get delivered (): number {
    return this.deliveredSeq
  }

  /** The highest seq the peer has been told about, by an ack or by the handshake. */
  get acked (): number {
    return this.ackedSeq
  }

  /** Number of delivered messages not yet acknowledged to the peer. */
  get unacked (): number {
    return this.deliveredSeq - this.ackedSeq
  }

  /**
   * Call when a connection of the session completes its handshake. The handshake carried
   * {@link delivered} to the peer, which counts as an ack, and the per-connection order check restarts.
   */
  startConnection (): void {
    this.ackedSeq = this.deliveredSeq
    this.connectionHigh = 0
  }

  /**
   * Classify a received sequenced frame. On `'deliver'` the caller must hand the message to the
   * application now: it already counts as delivered.
   * @throws {ProtocolError} 4400 when the seq goes backwards on this connection or leaves a gap
   */
  accept (seq: number): AcceptResult {
    if (seq <= this.connectionHigh) {
      throw new ProtocolError(CloseCode.BAD_MESSAGE, `seq went backwards: ${seq} after ${this.connectionHigh}`)
    }
    this.connectionHigh = seq
    if (seq <= this.deliveredSeq) return 'duplicate'
    if (seq !== this.deliveredSeq + 1) {
      throw new ProtocolError(CloseCode.BAD_MESSAGE, `gap in seq: expected ${this.deliveredSeq + 1}, got ${seq}`)
    }
    this.deliveredSeq = seq
    return 'deliver'
  }

  /**
   * Take the ack to send: returns {@link delivered} and marks it acknowledged, or 0 when there is
   * nothing new to acknowledge.
   */
  takeAck (): number {
    if (this.deliveredSeq === this.ackedSeq) return 0
    this.ackedSeq = this.deliveredSeq
    return this.deliveredSeq
  }

  /**
   * Like {@link takeAck}, but acknowledge no further than `limit` (the server passes the position
   * its store has committed: docs/SCALE-OUT.md, "Durability rule").
   */
  takeAckUpTo (limit: number): number {
    const seq = Math.min(limit, this.deliveredSeq)
    if (seq <= this.ackedSeq) return 0
    this.ackedSeq = seq
    return seq
  }
}
