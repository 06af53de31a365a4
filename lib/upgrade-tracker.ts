import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import { FRWS_ERR_HANDSHAKE_TIMEOUT } from './errors.js'
import { DeadlineQueue } from './deadline-queue.js'
import type { DeadlineEntry } from './deadline-queue.js'

/**
 * Bounds every WebSocket upgrade from its arrival to the open socket, hooks included: an upgrade
 * still unanswered after `handshakeTimeout` gets HTTP 408 and its socket is closed. It listens
 * from the `upgrade` event (see `ServerState.upgradeArrived`), so slow app-level `onRequest` hooks
 * are covered too. An upgrade whose socket closes is settled by `HeldSockets`. All upgrades share
 * one timer (`DeadlineQueue`).
 */
export class UpgradeTracker {
  readonly #pending = new Map<IncomingMessage, PendingUpgrade>()
  readonly #deadlines = new DeadlineQueue<PendingUpgrade>((entry) => this.#expired(entry.request, entry.socket))
  readonly #timeout: number
  readonly #log: FastifyBaseLogger

  constructor (timeout: number, log: FastifyBaseLogger) {
    this.#timeout = timeout
    this.#log = log
  }

  /** An upgrade request arrived: start its `handshakeTimeout`. */
  arrived (request: IncomingMessage, socket: Duplex): void {
    const entry = new PendingUpgrade(request, socket, this.#timeout)
    this.#pending.set(request, entry)
    this.#deadlines.add(entry, this.#timeout)
  }

  /** A route with its own `handshakeTimeout` was matched: bound this upgrade by it, still counted from arrival. */
  retime (request: IncomingMessage, timeout: number): void {
    const entry = this.#pending.get(request)
    if (entry === undefined || timeout === this.#timeout || !this.#deadlines.has(entry)) return
    // The arrival follows from the deadline: no clock read per upgrade to keep it.
    const arrivedAt = entry.deadlineAt - entry.timeout
    entry.timeout = timeout
    this.#deadlines.add(entry, Math.max(0, arrivedAt + timeout - performance.now()))
  }

  /** The upgrade completed or was answered: stop its timeout. Idempotent. */
  settle (request: IncomingMessage): void {
    const entry = this.#pending.get(request)
    if (entry === undefined) return
    this.#deadlines.remove(entry)
    this.#pending.delete(request)
  }

  /** Stop every timeout (the server is closing). */
  clear (): void {
    this.#deadlines.clear()
    this.#pending.clear()
  }

  #expired (request: IncomingMessage, socket: Duplex): void {
    this.#pending.delete(request)
    if (socket.destroyed || !socket.writable) return
    this.#log.warn({ err: new FRWS_ERR_HANDSHAKE_TIMEOUT(this.#timeout), url: request.url }, 'websocket upgrade timed out')
    socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => socket.destroy())
  }
}

/** One upgrade between its arrival and its answer: the entry of the tracker's deadline queue. */
class PendingUpgrade implements DeadlineEntry<PendingUpgrade> {
  deadlineAt = Number.NaN
  deadlinePrev: PendingUpgrade | null = null
  deadlineNext: PendingUpgrade | null = null

  /** @param timeout - the `handshakeTimeout` its deadline was set with, in ms */
  constructor (readonly request: IncomingMessage, readonly socket: Duplex, public timeout: number) {}
}
