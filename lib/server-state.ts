import { randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { WsConnection } from './connection.js'
import type { ConnectionHost } from './connection.js'
import type { ResolvedOptions, ResolvedRouteSettings } from './options.js'
import { ConnectionRegistry } from './registry.js'
import type { AdmissionState } from './upgrade-admission.js'
import { settleUpgrade } from './upgrade-admission.js'
import { CloseCode } from './protocol/close-codes.js'

/** A route handler: receives the connection and the upgrade request; may be async. */
export type WsHandler<Data extends object = Record<string, unknown>> =
  (connection: WsConnection<Data>, request: FastifyRequest) => void | Promise<void>

/**
 * The plugin's state for one Fastify instance: settings, the registry, upgrades in progress and
 * the shutdown flag. It turns upgraded sockets into connections.
 */
export class ServerState implements ConnectionHost, AdmissionState {
  readonly options: ResolvedOptions
  readonly registry = new ConnectionRegistry()
  readonly pendingUpgrades = new Map<FastifyRequest['raw'], NodeJS.Timeout>()
  closing = false
  // A random node prefix keeps ids unique across server nodes sharing a store.
  readonly #nodeId = randomBytes(6).toString('base64url')
  #counter = 0

  constructor (options: ResolvedOptions) {
    this.options = options
  }

  get maxConnections (): number {
    return this.options.maxConnections
  }

  get load (): number {
    return this.registry.size + this.pendingUpgrades.size
  }

  /** Wrap an upgraded socket, register it and run the route handler. */
  accept<Data extends object> (
    socket: WebSocket, request: FastifyRequest, _settings: ResolvedRouteSettings, handler: WsHandler<Data>
  ): void {
    settleUpgrade(this, request.raw)
    if (this.closing) {
      socket.close(CloseCode.GOING_AWAY, 'server shutting down')
      return
    }
    const id = `${this.#nodeId}.${(++this.#counter).toString(36)}`
    const connection = new WsConnection<Data>(socket, id, request.ip ?? '', request.log, this)
    this.registry.add(connection as WsConnection<object>)
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
}
