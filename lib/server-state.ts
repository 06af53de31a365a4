import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { WsConnection } from './connection.js'
import type { ConnectionHost, ConnectionInit } from './connection.js'
import { WsTransport } from './transport/ws-transport.js'
import type { ResolvedOptions, ResolvedRouteSettings } from './options.js'
import { ConnectionRegistry } from './registry.js'
import type { AdmissionState } from './upgrade-admission.js'
import { UpgradeTracker } from './upgrade-tracker.js'
import { HeldSockets } from './held-sockets.js'
import { UpgradeRateLimiter } from './admission/upgrade-rate.js'
import { CloseCode } from './protocol/close-codes.js'
import { HeartbeatManager } from './heartbeat/heartbeat-manager.js'
import type { ReliableConnection } from './reliable/reliable-connection.js'
import type { ReliableServer } from './reliable/reliable-handshake.js'
import { acceptReliable, createHelloDeadlines } from './reliable/reliable-handshake.js'
import type { ResolvedReliable } from './reliable/reliable-options.js'
import type { SessionStore } from './store/session-store.js'
import type { Fanout, FanoutMessage } from './fanout/fanout.js'
import { SuspendedSessions } from './reliable/suspended-sessions.js'
import { SessionBudget } from './reliable/session-budget.js'
import { publishConnectionOpen } from './metrics/publish.js'
import type { LimitName } from './metrics/channels.js'
import { bindServerId } from './metrics/server-ids.js'

/** A route handler: receives the connection and the upgrade request; may be async. */
export type WsHandler<Data extends object = Record<string, unknown>> =
  (connection: WsConnection<Data>, request: FastifyRequest) => void | Promise<void>

/**
 * The plugin's state for one Fastify instance: settings, the registry, the heartbeat manager,
 * the held sockets and handshake timers, the upgrade-rate buckets, reliable sessions and the shutdown flag. It turns upgraded sockets into
 * connections and runs route handlers.
 */
export class ServerState implements ConnectionHost, AdmissionState, ReliableServer {
  readonly options: ResolvedOptions
  readonly registry = new ConnectionRegistry()
  readonly heartbeat: HeartbeatManager
  /**
   * The client set of an @fastify/websocket the app registered itself: its default preClose would
   * close our sockets without a code (peers see 1005), so they leave that set; our preClose closes them with 1001.
   */
  foreignClients: Set<WebSocket> | undefined
  readonly upgrades: UpgradeTracker
  /** Every socket held for an upgrade until it closes: what `maxConnections` counts and the shutdown waits for. */
  readonly held: HeldSockets
  readonly upgradeRate: UpgradeRateLimiter | undefined
  readonly store: SessionStore
  readonly sessions = new Map<string, ReliableConnection<object>>()
  readonly helloDeadlines = createHelloDeadlines()
  readonly #suspended = new SuspendedSessions<ReliableConnection<object>>()
  /** Real bytes held for reliable sessions against `sessionBudget` (this state is its one owner). */
  readonly budget: SessionBudget
  closing = false
  /** Set once the X-Forwarded-For-without-trustProxy warning was logged. */
  proxyHintLogged = false
  /** This registration's id: a random prefix that keeps connection ids unique across nodes sharing a store; the channels carry it. */
  readonly serverId = randomBytes(6).toString('base64url')
  #counter = 0

  constructor (options: ResolvedOptions, store: SessionStore, log: FastifyBaseLogger) {
    this.options = options
    this.store = store
    this.upgrades = new UpgradeTracker(options.handshakeTimeout, log)
    this.held = new HeldSockets((request) => this.upgrades.settle(request))
    this.upgradeRate = options.upgradeRate === false
      ? undefined
      : new UpgradeRateLimiter(options.upgradeRate.perAddress, options.upgradeRate.interval)
    this.heartbeat = new HeartbeatManager({ defaults: options.heartbeatSettings })
    this.budget = new SessionBudget(options.sessionBudget)
    bindServerId(this.registry, this.serverId)
  }

  get maxPayload (): number {
    return this.options.maxPayload
  }

  /** The HTTP server's `upgrade` listener (prepended): hold the socket and bound its handshake. */
  readonly upgradeArrived = (request: IncomingMessage, socket: Duplex): void => {
    if (this.held.add(request, socket)) this.upgrades.arrived(request, socket)
  }

  /** A new id, unique across nodes: a random node prefix and a counter. */
  nextId (): string {
    return `${this.serverId}.${(++this.#counter).toString(36)}`
  }

  /** Turn an upgraded socket into a connection (plain), or start the reliable handshake. */
  accept (
    socket: WebSocket, request: FastifyRequest, settings: ResolvedRouteSettings,
    reliable: ResolvedReliable | undefined, handler: WsHandler<object>
  ): void {
    this.upgrades.settle(request.raw)
    this.foreignClients?.delete(socket)
    if (this.closing) {
      socket.close(CloseCode.GOING_AWAY, 'server shutting down')
      return
    }
    if (reliable !== undefined) {
      acceptReliable(this, socket, request, settings, reliable, handler)
      return
    }
    const connection = new WsConnection<object>(new WsTransport(socket), this.connectionInit(request, settings))
    publishConnectionOpen(connection, false, false)
    this.start(connection, request, handler)
  }

  connectionInit (request: FastifyRequest, settings: ResolvedRouteSettings): ConnectionInit {
    return {
      id: this.nextId(),
      route: request.routeOptions.url ?? request.url,
      serverId: this.serverId,
      remoteAddress: request.ip ?? '',
      log: request.log,
      host: this,
      heartbeat: settings.heartbeatSettings,
      appPing: settings.appPing,
      limits: settings.limits,
      messages: settings.messages
    }
  }

  /** Register the connection and run its route handler; handler errors close it with 1011. */
  start (connection: WsConnection<object>, request: FastifyRequest, handler: WsHandler<object>): void {
    this.registry.add(connection)
    let result: void | Promise<void>
    try {
      result = handler(connection, request)
    } catch (error) {
      connection.fail(error)
      connection.handlerSettled()
      return
    }
    if (result !== undefined && typeof result.then === 'function') {
      result.then(
        () => connection.handlerSettled(),
        (error: unknown) => { connection.fail(error); connection.handlerSettled() }
      )
    } else {
      connection.handlerSettled()
    }
  }

  connectionClosed (connection: WsConnection<object>): void {
    this.registry.remove(connection)
  }

  roomChanged (connection: WsConnection<object>, room: string, joined: boolean): void {
    this.registry.setMembership(connection, room, joined)
  }

  sessionEnded (connection: ReliableConnection<object>): void {
    if (this.sessions.get(connection.sessionId) === connection) this.sessions.delete(connection.sessionId)
    this.#suspended.remove(connection)
  }

  sessionDetached (connection: ReliableConnection<object>, expiresAt: number): void {
    const key = connection.budgetKey
    this.#suspended.add(connection, expiresAt, key)
    // Over a cap, the oldest suspended session goes first (possibly this one when a cap is 0).
    while (this.#suspended.countOf(key) > this.budget.maxSuspendedPerAddress) {
      this.#shed(this.#suspended.oldest(key), 'maxSuspendedPerAddress')
    }
    while (this.#suspended.size > this.budget.maxSuspended) {
      this.#shed(this.#suspended.oldest(), 'maxSuspended')
    }
  }

  reclaim (bytes: number): boolean {
    while (!this.budget.fits(bytes)) {
      const oldest = this.#suspended.oldest()
      if (oldest === undefined) return false
      this.#shed(oldest, 'maxTotalBytes')
    }
    return true
  }

  #shed (connection: ReliableConnection<object> | undefined, limit: LimitName): void {
    if (connection === undefined) return
    this.#suspended.remove(connection)
    connection.shed(limit)
  }

  unsuspend (connection: ReliableConnection<object>): void {
    this.#suspended.remove(connection)
  }

  /** Stop timers (after the graceful close). */
  /** Publishes to the other nodes; set by the plugin when the `fanout` option is given. */
  fanout: Fanout | undefined

  /** {@inheritDoc ReliableServer.announceClaim} */
  announceClaim (sessionId: string, previousOwner: string): void {
    this.fanout?.publish({ kind: 'claim', sessionId, previousOwner })
  }

  /** A message another node published (the `fanout` option). */
  readonly fannedIn = (message: FanoutMessage): void => {
    if (message.kind === 'broadcast') {
      this.registry.deliverLocally(message.data, message.room === undefined ? {} : { room: message.room }, message.encoded === true)
      return
    }
    const local = this.sessions.get(message.sessionId)
    if (local !== undefined && local.ownerId === message.previousOwner) local.movedElsewhere()
  }

  stop (): void {
    this.heartbeat.close()
    this.#suspended.clear()
    this.upgrades.clear()
    this.helloDeadlines.clear()
  }
}
