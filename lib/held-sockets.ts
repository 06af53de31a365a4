import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'

const kHeldSockets = Symbol('fastify-reliable-ws.heldSockets')

type TrackedDuplex = Duplex & { [kHeldSockets]: HeldSockets }

/** One listener function for every held socket (no closure per socket); the socket is `this`. */
function onHeldSocketClose (this: Duplex): void {
  (this as TrackedDuplex)[kHeldSockets].release(this)
}

/** One socket the server holds for the plugin. */
interface HeldSocket {
  readonly socket: Duplex
  /** Until the upgrade completes (then its handshake timer is settled and nothing needs it). */
  request: IncomingMessage | undefined
  /** The per-address key, once admission counted the socket against its address. */
  address: string | undefined
  /** The WebSocket, once the upgrade completed. */
  webSocket: WebSocket | undefined
}

/**
 * Every socket that asked for a WebSocket upgrade, from the `upgrade` event until the TCP socket
 * closes, whatever happens in between: hooks, an HTTP refusal, the reliable hello, a refusal with
 * a close code, a replaced session, the connection's whole life. This one set is what
 * `maxConnections` counts (suspended reliable sessions have no socket, so they do not count) and
 * what the shutdown waits for and, past its deadline, destroys. An aborted upgrade leaves it the
 * moment its socket closes.
 */
export class HeldSockets {
  readonly #bySocket = new Map<Duplex, HeldSocket>()
  readonly #byRequest = new WeakMap<IncomingMessage, HeldSocket>()
  readonly #perAddress = new Map<string, number>()
  readonly #released: (request: IncomingMessage) => void
  #emptyWaiters: Array<() => void> = []

  /** @param released - called once per socket when it closed (e.g. to stop its handshake timer) */
  constructor (released: (request: IncomingMessage) => void) {
    this.#released = released
  }

  /** Sockets held now. */
  get size (): number {
    return this.#bySocket.size
  }

  /** Addresses that hold at least one counted socket (the per-address map only keeps those). */
  get addressCount (): number {
    return this.#perAddress.size
  }

  /** Sockets counted against `address`. */
  countOf (address: string): number {
    return this.#perAddress.get(address) ?? 0
  }

  /** Start holding the socket of an upgrade request. False when it is already gone. */
  add (request: IncomingMessage, socket: Duplex): boolean {
    if (socket.destroyed) return false
    const entry: HeldSocket = { socket, request, address: undefined, webSocket: undefined }
    this.#bySocket.set(socket, entry)
    this.#byRequest.set(request, entry)
    ;(socket as TrackedDuplex)[kHeldSockets] = this
    // `on`, not `once`: a socket closes once, and `once` would wrap the shared listener in a closure per socket.
    socket.on('close', onHeldSocketClose)
    return true
  }

  /** Count the socket of this upgrade request against `address` until it closes. */
  countAgainst (request: IncomingMessage, address: string): void {
    const entry = this.#byRequest.get(request)
    if (entry === undefined || entry.address !== undefined) return
    entry.address = address
    this.#perAddress.set(address, this.countOf(address) + 1)
  }

  /** The upgrade of this request completed: remember its WebSocket (for the shutdown). */
  upgraded (request: IncomingMessage, webSocket: WebSocket): void {
    const entry = this.#byRequest.get(request)
    if (entry === undefined) return
    entry.webSocket = webSocket
    // Let go of the HTTP side (issue 12, idle connection memory): @fastify/websocket leaves its
    // placeholder response assigned to the TCP socket, and through it the request, its headers and
    // Fastify's request and reply stayed alive as long as the connection (about 1.5 KiB each).
    entry.request = undefined
    const response = (entry.socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage
    if (response != null && response.req === request) response.detachSocket(entry.socket as Socket)
  }

  /**
   * Send a close frame to every held WebSocket that is still open and not closing yet: those
   * outside the registry (awaiting a reliable hello, or routes the app declared with
   * @fastify/websocket itself). Returns how many were closed.
   */
  closeOpen (code: number, reason: string): number {
    let count = 0
    for (const { webSocket } of this.#bySocket.values()) {
      if (webSocket === undefined || webSocket.readyState !== 1) continue
      // A socket paused for the reliable handshake must read the peer's close frame to finish.
      if (webSocket.isPaused) webSocket.resume()
      webSocket.close(code, reason)
      count++
    }
    return count
  }

  /** Destroy the socket of this upgrade request, if it is held. */
  destroy (request: IncomingMessage): void {
    this.#byRequest.get(request)?.socket.destroy()
  }

  /** Destroy every held socket (the shutdown deadline passed). Returns how many there were. */
  destroyAll (): number {
    const count = this.#bySocket.size
    for (const socket of [...this.#bySocket.keys()]) socket.destroy()
    return count
  }

  /** Resolves once no socket is held. */
  whenEmpty (): Promise<void> {
    if (this.#bySocket.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#emptyWaiters.push(resolve))
  }

  /** @internal The socket closed: forget it. */
  release (socket: Duplex): void {
    const entry = this.#bySocket.get(socket)
    if (entry === undefined) return
    this.#bySocket.delete(socket)
    if (entry.address !== undefined) {
      const left = this.countOf(entry.address) - 1
      if (left > 0) this.#perAddress.set(entry.address, left)
      else this.#perAddress.delete(entry.address)
    }
    if (entry.request !== undefined) {
      this.#byRequest.delete(entry.request)
      this.#released(entry.request)
    }
    if (this.#bySocket.size === 0 && this.#emptyWaiters.length > 0) {
      const waiters = this.#emptyWaiters
      this.#emptyWaiters = []
      for (const resolve of waiters) resolve()
    }
  }
}
