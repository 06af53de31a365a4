import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import type { ResolvedRouteSettings } from './options.js'
import type { UpgradeTracker } from './upgrade-tracker.js'
import type { HeldSockets } from './held-sockets.js'
import { addressKey } from './admission/address-key.js'
import type { UpgradeRateLimiter } from './admission/upgrade-rate.js'
import { originVerdict } from './origin-policy.js'
import type { OriginVerdict } from './origin-policy.js'
import { markReliableUpgrade } from './subprotocol-choice.js'
import { publishAdmissionRefused } from './metrics/publish.js'
import {
  FRWS_ERR_ORIGIN_FORBIDDEN, FRWS_ERR_ORIGIN_MISSING, FRWS_ERR_SHUTTING_DOWN, FRWS_ERR_TOO_MANY_CONNECTIONS,
  FRWS_ERR_TOO_MANY_CONNECTIONS_FROM_ADDRESS, FRWS_ERR_UPGRADE_NOT_WEBSOCKET_ROUTE, FRWS_ERR_UPGRADE_RATE_LIMITED
} from './errors.js'

/** `Retry-After` of a 503 for a connection limit, in seconds: nobody knows when a slot frees up; a short hint. */
export const CONNECTION_LIMIT_RETRY_AFTER = 5

/** What admission needs to know about the plugin's current state. */
export interface AdmissionState {
  /** The registration's id, for the `admission:refused` channel. */
  readonly serverId: string
  readonly closing: boolean
  readonly options: { readonly maxConnections: number, readonly maxConnectionsPerAddress: number }
  /** Every socket held for an upgrade, this one included, with per-address counts. */
  readonly held: HeldSockets
  /** Upgrade requests per address; `undefined` when `upgradeRate` is `false`. */
  readonly upgradeRate: UpgradeRateLimiter | undefined
  readonly upgrades: UpgradeTracker
  /** Set once the X-Forwarded-For-without-trustProxy hint was logged (once per registration). */
  proxyHintLogged: boolean
}

const kWebSocketRoute = Symbol('fastify-reliable-ws.websocketRoute')

/**
 * `onRoute` hook: mark the routes that accept upgrades (`wsRoute()`, and routes the app declares
 * with @fastify/websocket's `websocket: true` or `wsHandler`), so the gate can tell them apart.
 */
export function markWebSocketRoute (routeOptions: RouteOptions & { websocket?: boolean, wsHandler?: unknown }): void {
  if (routeOptions.websocket !== true && routeOptions.wsHandler === undefined) return
  routeOptions.config = { ...routeOptions.config, [kWebSocketRoute]: true } as typeof routeOptions.config
}

function destroyHeld (held: HeldSockets, request: FastifyRequest['raw']): void {
  held.destroy(request)
}

function isWebSocketRoute (config: unknown): boolean {
  return (config as Record<symbol, unknown> | undefined)?.[kWebSocketRoute] === true
}

/** The route path for the `admission:refused` channel (only refusals need it: Fastify builds `routeOptions` anew on every read). */
function routeOf (request: FastifyRequest): string {
  return request.routeOptions.url ?? request.url
}

/**
 * Build the plugin-level `onRequest` hook that every upgrade request passes before its route's
 * hooks, on every route: 400 when the route does not accept upgrades (else @fastify/websocket
 * would answer 101 on any GET route), then 503 while shutting down, 429 past `upgradeRate`, 503
 * past `maxConnectionsPerAddress` or `maxConnections`. An admitted socket counts against its
 * address until it closes.
 */
export function createUpgradeGate (state: AdmissionState) {
  // Callback style: the app's plain HTTP requests pass through here too and should not pay for a promise.
  return function gateUpgrade (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void {
    if (request.ws !== true || request.is404) {
      done()
      return
    }
    done(refusal(state, request, reply))
  }
}

/** Why this upgrade request is refused, or `undefined` when it may go on (then it counts against its address). */
function refusal (state: AdmissionState, request: FastifyRequest, reply: FastifyReply): Error | undefined {
  if (request.raw.socket == null) {
    // fastify.injectWS: @fastify/websocket never ends an injected stream answered with HTTP
    // (its response never finishes), so it would be held until the shutdown deadline.
    reply.raw.once('prefinish', () => setImmediate(destroyHeld, state.held, request.raw))
  }
  const routeOptions = request.routeOptions
  if (!isWebSocketRoute(routeOptions.config)) {
    request.log.info({ url: request.url }, 'websocket upgrade refused: not a websocket route')
    return new FRWS_ERR_UPGRADE_NOT_WEBSOCKET_ROUTE(routeOptions.url ?? request.url)
  }
  if (state.closing) {
    publishAdmissionRefused(state.serverId, routeOf(request), 503, 'shuttingDown')
    return new FRWS_ERR_SHUTTING_DOWN()
  }
  const { maxConnections, maxConnectionsPerAddress } = state.options
  // Without `upgradeRate` and `maxConnectionsPerAddress` nothing counts per address: skip the key.
  if (state.upgradeRate === undefined && maxConnectionsPerAddress === Infinity) return connectionLimit(state, request, reply, maxConnections)
  if (!state.proxyHintLogged && request.headers['x-forwarded-for'] !== undefined && request.ip === request.socket?.remoteAddress) {
    // Behind a proxy without `trustProxy`, every client has the proxy's address and shares its limits.
    state.proxyHintLogged = true
    request.log.warn('websocket upgrades carry X-Forwarded-For but trustProxy is off: per-address limits count the proxy\'s address')
  }
  const address = addressKey(request.ip)
  const rate = state.upgradeRate?.take(address)
  if (rate !== undefined && rate.retryAfter > 0) {
    const seconds = Math.ceil(rate.retryAfter / 1000)
    // One warn line when an address runs dry, not one per refused request.
    request.log[rate.firstRefusal ? 'warn' : 'debug']({ address, retryAfter: seconds }, 'websocket upgrade refused: upgrade rate exceeded')
    reply.header('retry-after', String(seconds))
    publishAdmissionRefused(state.serverId, routeOf(request), 429, 'upgradeRate')
    return new FRWS_ERR_UPGRADE_RATE_LIMITED(seconds)
  }
  if (state.held.countOf(address) >= maxConnectionsPerAddress) {
    request.log.warn({ address, maxConnectionsPerAddress }, 'websocket upgrade refused: too many connections from this address')
    publishAdmissionRefused(state.serverId, routeOf(request), 503, 'maxConnectionsPerAddress')
    reply.header('retry-after', String(CONNECTION_LIMIT_RETRY_AFTER))
    return new FRWS_ERR_TOO_MANY_CONNECTIONS_FROM_ADDRESS(maxConnectionsPerAddress)
  }
  const refused = connectionLimit(state, request, reply, maxConnections)
  if (refused === undefined) state.held.countAgainst(request.raw, address)
  return refused
}

/** The `maxConnections` check: every held socket counts, this one included. */
function connectionLimit (state: AdmissionState, request: FastifyRequest, reply: FastifyReply, maxConnections: number): Error | undefined {
  if (state.held.size <= maxConnections) return undefined
  request.log.warn({ maxConnections }, 'websocket upgrade refused: too many connections')
  publishAdmissionRefused(state.serverId, routeOf(request), 503, 'maxConnections')
  reply.header('retry-after', String(CONNECTION_LIMIT_RETRY_AFTER))
  return new FRWS_ERR_TOO_MANY_CONNECTIONS(maxConnections)
}

/**
 * Build the route-level `onRequest` hook of a WebSocket route: bound the upgrade by the route's
 * `handshakeTimeout`, mark a reliable route's upgrade (its subprotocol choice), and refuse a
 * foreign or missing Origin with 403 (cross-site WebSocket hijacking). Callback style, and no
 * promise unless the origin policy answers with one: it runs once per handshake (issue 12).
 */
export function createAdmissionHook (state: AdmissionState, settings: ResolvedRouteSettings, reliable: boolean) {
  return function admitUpgrade (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
    if (!request.ws) {
      done()
      return
    }
    state.upgrades.retime(request.raw, settings.handshakeTimeout)
    if (reliable) markReliableUpgrade(request.raw)
    let verdict: OriginVerdict | Promise<OriginVerdict>
    try {
      verdict = originVerdict(settings.originPredicate, settings.allowMissingOrigin, request)
    } catch (error) {
      done(error as Error)
      return
    }
    if (typeof verdict === 'string') done(originRefusal(verdict, request))
    else verdict.then((settled) => done(originRefusal(settled, request)), done)
  }
}

function originRefusal (verdict: OriginVerdict, request: FastifyRequest): Error | undefined {
  if (verdict === 'missing') return new FRWS_ERR_ORIGIN_MISSING()
  if (verdict === 'forbidden') {
    request.log.info({ origin: request.headers.origin }, 'websocket upgrade refused: origin not allowed')
    return new FRWS_ERR_ORIGIN_FORBIDDEN(String(request.headers.origin))
  }
  return undefined
}
