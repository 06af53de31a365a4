import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import { FRWS_ERR_HANDSHAKE_TIMEOUT } from './errors.js'

/**
 * Bounds every WebSocket upgrade from its arrival to the open socket, hooks included: an upgrade
 * still unanswered after `handshakeTimeout` gets HTTP 408 and its socket is closed. It listens
 * from the `upgrade` event (see `ServerState.upgradeArrived`), so slow app-level `onRequest` hooks
 * are covered too. An upgrade whose socket closes is settled by `HeldSockets`.
 */
export class UpgradeTracker {
  readonly #pending = new Map<IncomingMessage, { timer: NodeJS.Timeout, arrivedAt: number, socket: Duplex }>()
  readonly #timeout: number
  readonly #log: FastifyBaseLogger

  constructor (timeout: number, log: FastifyBaseLogger) {
    this.#timeout = timeout
    this.#log = log
  }

  /** An upgrade request arrived: start its `handshakeTimeout` timer. */
  arrived (request: IncomingMessage, socket: Duplex): void {
    this.#pending.set(request, { timer: this.#arm(request, socket, this.#timeout), arrivedAt: Date.now(), socket })
  }

  /** A route with its own `handshakeTimeout` was matched: bound this upgrade by it, still counted from arrival. */
  retime (request: IncomingMessage, timeout: number): void {
    const entry = this.#pending.get(request)
    if (entry === undefined || timeout === this.#timeout) return
    clearTimeout(entry.timer)
    entry.timer = this.#arm(request, entry.socket, Math.max(0, entry.arrivedAt + timeout - Date.now()))
  }

  #arm (request: IncomingMessage, socket: Duplex, delay: number): NodeJS.Timeout {
    const timer = setTimeout(expire, delay, this, request, socket)
    timer.unref()
    return timer
  }

  /** The upgrade completed or was answered: stop its timer. Idempotent. */
  settle (request: IncomingMessage): void {
    const entry = this.#pending.get(request)
    if (entry === undefined) return
    clearTimeout(entry.timer)
    this.#pending.delete(request)
  }

  /** Stop every timer (the server is closing). */
  clear (): void {
    for (const entry of this.#pending.values()) clearTimeout(entry.timer)
    this.#pending.clear()
  }

  /** @internal */
  expired (request: IncomingMessage, socket: Duplex): void {
    this.#pending.delete(request)
    if (socket.destroyed || !socket.writable) return
    this.#log.warn({ err: new FRWS_ERR_HANDSHAKE_TIMEOUT(this.#timeout), url: request.url }, 'websocket upgrade timed out')
    socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => socket.destroy())
  }
}

function expire (tracker: UpgradeTracker, request: IncomingMessage, socket: Duplex): void {
  tracker.expired(request, socket)
}
