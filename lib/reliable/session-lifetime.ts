import type { CloseCause } from '../connection-events.js'
import { reportedCloseCode } from '../connection.js'
import { FRWS_ERR_SESSION_ENDED } from '../errors.js'
import type { LimitName } from '../metrics/channels.js'
import { publishConnectionClose, publishLimitHit, publishSessionEnd, publishSessionSuspend } from '../metrics/publish.js'
import type { AckScheduler } from '../protocol/ack-scheduler.js'
import { CloseCode, CloseReason } from '../protocol/close-codes.js'
import type { InboundTracker } from '../protocol/inbound-tracker.js'
import type { OutboundLog } from '../protocol/outbound-log.js'
import type { IncomingRequests } from './incoming-requests.js'
import type { OutgoingRequests } from './outgoing-requests.js'
import type { ReliableConnection, ReliableHost } from './reliable-connection.js'
import type { ResolvedReliable } from './reliable-options.js'
import { noop } from './send-promises.js'
import type { SessionShare } from './session-budget.js'
import type { SessionWriter } from './session-writer.js'

/** Close codes after which the session cannot continue (docs/PROTOCOL.md, "Session lifetime"). */
const SESSION_ENDING_CODES = new Set<number>([
  CloseCode.NORMAL, CloseCode.BAD_MESSAGE, CloseCode.INVALID_PAYLOAD, CloseCode.MESSAGE_TOO_BIG,
  CloseCode.BUFFER_OVERFLOW, CloseCode.UNSUPPORTED_DATA, CloseCode.UNSUPPORTED_VERSION, CloseCode.SESSION_SHED
])

/** @internal The parts of a session that its lifetime stops, fails, releases or deletes. */
export interface SessionParts {
  readonly settings: ResolvedReliable
  readonly host: ReliableHost
  readonly outbound: OutboundLog
  readonly inbound: InboundTracker
  readonly acks: AckScheduler
  readonly writer: SessionWriter
  readonly outgoing: OutgoingRequests
  readonly incoming: IncomingRequests
  readonly share: SessionShare
}

/** @internal How the server side recorded the close of a socket (`WsConnection.takeLocalClose()`). */
export interface LocalClose {
  cause: CloseCause | undefined
  code: number | undefined
}

/**
 * @internal The lifetime of a reliable session across its sockets: attached, suspended when a
 * socket drops with a code that lets it continue, and ended (closed, expired, shed, replaced, shut
 * down), with what each step means for the session store, the pending sends and requests and the
 * memory budget. The connection keeps the socket side and the `close` event.
 */
export class SessionLifetime {
  /** True while a socket carries the session. */
  attached = true
  #suspendedBy = { code: CloseCode.ABNORMAL as number, reason: '' }
  readonly #connection: ReliableConnection<object>
  readonly #parts: SessionParts

  constructor (connection: ReliableConnection<object>, parts: SessionParts) {
    this.#connection = connection
    this.#parts = parts
  }

  /**
   * The current socket closed (its heartbeat already unwatched): end the session when the code or
   * the cause says so ([R-LT-2]), suspend it otherwise.
   */
  socketClosed (code: number, reason: string, local: LocalClose): void {
    const connection = this.#connection
    const { host, settings } = this.#parts
    // A socket that was already closing when the server began to shut down ends with the shutdown.
    const cause = host.closing ? 'shutdown' : local.cause ?? 'client'
    const sentCode = local.code
    // The same codes end the session whichever side closes with them ([R-LT-2]).
    const ends = cause === 'shutdown' || cause === 'replaced' || SESSION_ENDING_CODES.has(sentCode ?? code)
    if (ends) {
      const reported = reportedCloseCode(code, cause, sentCode)
      publishConnectionClose(connection, true, reported, reason, cause)
      connection.endSession(reported, reason, cause)
      return
    }
    this.attached = false
    this.#parts.acks.stop()
    // After a cut (4420, 4429) the socket is terminated: report the code the server sent, not 1006.
    code = reportedCloseCode(code, local.cause, sentCode)
    publishConnectionClose(connection, true, code, reason, cause)
    this.#suspendedBy = { code, reason }
    const lifetime = this.#neverAcknowledged
      ? Math.min(settings.sessionTimeout, host.budget.unackedSessionTimeout)
      : settings.sessionTimeout
    void this.#releaseInStore(this.#parts.writer.ownerId, lifetime)
    host.sessionDetached(connection, Date.now() + lifetime)
    if (connection.isEnded) return
    connection.log.debug({ session: connection.sessionTag, code, cause }, 'reliable session suspended')
    publishSessionSuspend(connection, code, cause)
    connection.emit('suspend', { code, reason, cause })
  }

  /**
   * The session is over for this node (the connection then emits `close`). Its store record is
   * released on shutdown (another node may resume it), left alone when it moved, and deleted
   * otherwise (if this node still owns it). An expired session is deleted too: its release may have
   * reached the store after the expiry timer started, and a resume in that gap would replay sends
   * that already failed.
   */
  end (code: number, reason: string, cause: CloseCause): void {
    const connection = this.#connection
    const { host, settings, writer } = this.#parts
    const wasAttached = this.attached
    this.attached = false
    this.#parts.acks.stop()
    if (cause === 'shutdown') {
      // Flush first: a message sent just before the shutdown must reach a shared store.
      void this.#releaseInStore(writer.ownerId, settings.sessionTimeout).finally(() => writer.stop())
    } else {
      writer.stop()
      if (cause !== 'replaced') {
        void host.store.delete(connection.sessionId, writer.ownerId).catch(noop)
      }
    }
    const error = new FRWS_ERR_SESSION_ENDED(connection.sessionTag, cause)
    this.#parts.outbound.fail(error)
    this.#parts.outgoing.failAll(error)
    this.#parts.incoming.drop()
    this.#parts.share.close()
    host.sessionEnded(connection)
    if (wasAttached) connection.closeSocket(code, reason)
    publishSessionEnd(connection, code, reason, cause)
  }

  /** The client did not resume within `sessionTimeout` (or `sessionBudget.unackedSessionTimeout`). */
  expire (): void {
    const connection = this.#connection
    const shorter = this.#neverAcknowledged && this.#parts.host.budget.unackedSessionTimeout < this.#parts.settings.sessionTimeout
    const limit = shorter ? 'unackedSessionTimeout' : 'sessionTimeout'
    connection.log.info({ session: connection.sessionTag, limit }, 'reliable session expired')
    connection.endSession(this.#suspendedBy.code, this.#suspendedBy.reason, 'expired')
  }

  /** The memory budget ends the session to make room; `limit` is the `sessionBudget` option that forced it. */
  shed (limit: LimitName): void {
    const connection = this.#connection
    if (connection.isEnded) return
    publishLimitHit(connection, CloseCode.SESSION_SHED, limit)
    connection.log.warn({ session: connection.sessionTag, limit, heldBytes: this.#parts.share.bytes, attached: this.attached }, 'reliable session shed: session budget exceeded')
    connection.endSession(CloseCode.SESSION_SHED, CloseReason[CloseCode.SESSION_SHED], 'shed')
  }

  /** The store says another connection owns the session now (a resume on another node). */
  superseded (): void {
    const connection = this.#connection
    connection.log.info({ session: connection.sessionTag }, 'reliable session resumed elsewhere')
    if (this.attached) connection.closeWithCause(CloseCode.SESSION_REPLACED, undefined, 'replaced')
    else connection.endSession(CloseCode.SESSION_REPLACED, 'session replaced', 'replaced')
  }

  /** Another node claimed the session (a fan-out notice): stop writing and let go of this copy now. */
  movedElsewhere (): void {
    if (this.#connection.isEnded) return
    this.#parts.writer.stop()
    this.superseded()
  }

  /** True while the client never acknowledged a message nor sent one: it may not be a real client (`unackedSessionTimeout`). */
  get #neverAcknowledged (): boolean {
    return this.#parts.outbound.acked === 0 && this.#parts.inbound.delivered === 0
  }

  /** Release the session in the store under the owner that held it when the socket closed. */
  async #releaseInStore (ownerId: string, lifetime: number): Promise<void> {
    try {
      await this.#parts.writer.flush()
      await this.#parts.host.store.release(this.#connection.sessionId, ownerId, lifetime)
    } catch (error) {
      this.#connection.log.error({ err: error, session: this.#connection.sessionTag }, 'session store release failed')
    }
  }
}
