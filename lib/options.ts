import type { ResolvedMessages } from './messages/validate.js'
import type { OriginOption, OriginPredicate } from './origin-policy.js'
import { compileOriginPolicy } from './origin-policy.js'
import { checkBoolean, checkInteger, checkKnownKeys, checkLimit, checkObject, invalidOption } from './option-checks.js'
import type { HeartbeatSettings } from './heartbeat/heartbeat-settings.js'
import type { SessionStore } from './store/session-store.js'
import type { Fanout } from './fanout/fanout.js'
import { resolveSessionBudget } from './reliable/session-budget-options.js'
import type { ResolvedSessionBudget, SessionBudgetOptions } from './reliable/session-budget-options.js'
import { MIN_HEARTBEAT_INTERVAL } from './heartbeat/heartbeat-settings.js'
import type { ConnectionLimits, LimitOptions } from './limits/limit-options.js'
import { DEFAULT_LIMITS, LIMIT_KEYS, resolveLimits } from './limits/limit-options.js'

/** Heartbeat settings: protocol pings to find dead and half-open peers. */
export interface HeartbeatOptions {
  /**
   * How long a connection may stay silent (no inbound frame) before the server pings it, in ms.
   * @default 25000
   */
  pingInterval?: number
  /**
   * How long the server waits for any inbound frame after a ping before it terminates the connection, in ms.
   * @default 10000
   */
  pongTimeout?: number
}

/** How many upgrade requests one client address may make (token bucket). */
export interface UpgradeRateOptions {
  /** Upgrades an address may make at once; it gets them back at this many per `interval`. @default 100 */
  perAddress?: number
  /** Time in which an address gets all `perAddress` upgrades back, in ms. @default 10000 */
  interval?: number
}

/** Options of the plugin, given to `fastify.register(fastifyReliableWs, options)`. */
export interface FastifyReliableWsOptions extends LimitOptions {
  /** Origin policy for upgrades and for the plugin's HTTP routes (CORS). @default same origin, only on a loopback or IP-literal host with a matching scheme (docs/SECURITY.md) */
  origins?: OriginOption
  /** Whether requests without an `Origin` header (non-browser clients) may upgrade. @default true */
  allowMissingOrigin?: boolean
  /** Largest message accepted, in bytes; a larger one closes the connection with 1009. @default 1048576 (1 MiB) */
  maxPayload?: number
  /**
   * Most sockets the server holds for WebSocket upgrades, from the upgrade request until the socket
   * closes (hooks, the reliable hello and the close handshake included; suspended reliable sessions
   * have no socket and do not count). More get HTTP 503 before the upgrade. @default 10000
   */
  maxConnections?: number
  /**
   * Most sockets one client address (`request.ip`, so `trustProxy` decides; IPv6 by /64 prefix) may
   * hold, counted like `maxConnections`. More get HTTP 503 with `Retry-After` before the upgrade.
   * @default 1000
   */
  maxConnectionsPerAddress?: number
  /**
   * Upgrade requests per client address (`request.ip`; IPv6 by /64 prefix), or `false` for no limit.
   * More get HTTP 429 with `Retry-After` before the upgrade.
   * @default { perAddress: 100, interval: 10000 }
   */
  upgradeRate?: UpgradeRateOptions | false
  /** How long `fastify.close()` waits for close handshakes before it terminates the rest, in ms. @default 5000 */
  closeTimeout?: number
  /** How long an upgrade may take from the request's arrival to the open socket (hooks included), in ms. @default 10000 */
  handshakeTimeout?: number
  /** Heartbeat settings, or `false` to send no pings. @default { pingInterval: 25000, pongTimeout: 10000 } */
  heartbeat?: HeartbeatOptions | false
  /** Close a connection that received no application message for this long, in ms; 0 turns it off. @default 0 */
  idleTimeout?: number
  /** Serve `GET <path>/info` (protocol and heartbeat settings, CORS-enabled) beside each WebSocket route. @default true */
  infoRoute?: boolean
  /** Where reliable sessions live; share one store between nodes to resume on any node. @default a new MemorySessionStore */
  sessionStore?: SessionStore
  /**
   * Carries `wsConnections.broadcast()` and resume notices to the other nodes of the application
   * (`RedisFanout` from `fastify-reliable-ws/redis`; docs/SCALE-OUT.md). Closed by the plugin on `fastify.close()`.
   * @default undefined (broadcasts reach this node's connections only)
   */
  fanout?: Fanout
  /**
   * The memory budget of reliable sessions, in real bytes, and the caps on suspended sessions
   * (docs/PROTOCOL.md, "Memory budget").
   * @default { maxTotalBytes: 268435456, maxSessionBytes: 2097152, maxSuspended: 10000, maxSuspendedPerAddress: 100, unackedSessionTimeout: 10000 }
   */
  sessionBudget?: SessionBudgetOptions
}

/** Options that a single `wsRoute()` may override (the limits too: `maxBufferedBytes`, `drainTimeout`, `rateLimit`). */
export interface WsRouteOverrides extends LimitOptions {
  /** Origin policy of this route. @default the plugin's `origins` */
  origins?: OriginOption
  /** @default the plugin's `allowMissingOrigin` */
  allowMissingOrigin?: boolean
  /** @default the plugin's `handshakeTimeout` */
  handshakeTimeout?: number
  /** @default the plugin's `heartbeat` */
  heartbeat?: HeartbeatOptions | false
  /** @default the plugin's `idleTimeout` */
  idleTimeout?: number
  /** @default the plugin's `infoRoute` */
  infoRoute?: boolean
  /**
   * Answer the app-level ping `frws:ping[:token]` with `frws:pong[:token]` instead of delivering it,
   * for browser clients of plain routes (reliable routes always answer it). docs/PROTOCOL.md.
   * @default false
   */
  appPing?: boolean
}

/** Heartbeat settings after defaults, `false` meaning off. */
export type ResolvedHeartbeat = Required<HeartbeatOptions> | false

/** Settings that apply to one route, after defaults and overrides. */
export interface ResolvedRouteSettings {
  originPredicate: OriginPredicate
  allowMissingOrigin: boolean
  handshakeTimeout: number
  heartbeat: ResolvedHeartbeat
  idleTimeout: number
  infoRoute: boolean
  appPing: boolean
  /** `heartbeat` and `idleTimeout` as the heartbeat manager takes them, one object per route. */
  heartbeatSettings: HeartbeatSettings
  /** Backpressure and rate limits, one object per route. */
  limits: ConnectionLimits
  /** The route's `messages` schemas and codec (route option only, never a plugin option). */
  messages?: ResolvedMessages
}

/** Plugin settings after defaults. */
export interface ResolvedOptions extends ResolvedRouteSettings {
  sessionStore: SessionStore | undefined
  fanout: Fanout | undefined
  sessionBudget: ResolvedSessionBudget
  maxPayload: number
  maxConnections: number
  maxConnectionsPerAddress: number
  upgradeRate: Required<UpgradeRateOptions> | false
  closeTimeout: number
}

/** Defaults, one object spread under the user's options. */
export const DEFAULTS = {
  allowMissingOrigin: true,
  maxPayload: 1024 * 1024,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 1000,
  upgradeRate: { perAddress: 100, interval: 10_000 },
  closeTimeout: 5000,
  handshakeTimeout: 10_000,
  heartbeat: { pingInterval: 25_000, pongTimeout: 10_000 },
  idleTimeout: 0,
  infoRoute: true,
  appPing: false
} as const

const PLUGIN_KEYS = [
  'origins', 'allowMissingOrigin', 'maxPayload', 'maxConnections', 'closeTimeout',
  'handshakeTimeout', 'heartbeat', 'idleTimeout', 'infoRoute', 'sessionStore', 'fanout', 'sessionBudget',
  'maxConnectionsPerAddress', 'upgradeRate', ...LIMIT_KEYS
] as const

function resolveUpgradeRate (value: unknown): Required<UpgradeRateOptions> | false {
  if (value === undefined) return DEFAULTS.upgradeRate
  if (value === false) return false
  const options = checkObject('upgradeRate', value)
  checkKnownKeys('upgradeRate', options, ['perAddress', 'interval'])
  return {
    perAddress: checkInteger('upgradeRate.perAddress', options.perAddress ?? DEFAULTS.upgradeRate.perAddress, 1),
    interval: checkInteger('upgradeRate.interval', options.interval ?? DEFAULTS.upgradeRate.interval, 1)
  }
}

const STORE_METHODS = ['create', 'claim', 'update', 'release', 'delete', 'get', 'close'] as const

/** Validate the `fanout` option; `undefined` means local broadcasts only. */
export function checkFanout (value: unknown): Fanout | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || ['start', 'publish', 'close'].some((m) => typeof (value as Record<string, unknown>)[m] !== 'function')) {
    invalidOption('fanout', 'a Fanout (an object with start, publish, close)', value)
  }
  return value as Fanout
}

/** Validate the `sessionStore` option; `undefined` means the default in-memory store. */
export function checkSessionStore (value: unknown): SessionStore | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || STORE_METHODS.some((m) => typeof (value as Record<string, unknown>)[m] !== 'function')) {
    invalidOption('sessionStore', `a SessionStore (an object with ${STORE_METHODS.join(', ')})`, value)
  }
  return value as SessionStore
}

function resolveHeartbeat (name: string, value: unknown, base: ResolvedHeartbeat): ResolvedHeartbeat {
  if (value === undefined) return base
  if (value === false) return false
  const options = checkObject(name, value)
  checkKnownKeys(name, options, ['pingInterval', 'pongTimeout'])
  const defaults = base === false ? DEFAULTS.heartbeat : base
  return {
    pingInterval: checkInteger(`${name}.pingInterval`, options.pingInterval ?? defaults.pingInterval, MIN_HEARTBEAT_INTERVAL),
    pongTimeout: checkInteger(`${name}.pongTimeout`, options.pongTimeout ?? defaults.pongTimeout, MIN_HEARTBEAT_INTERVAL)
  }
}

function checkIdleTimeout (value: unknown): number {
  const idleTimeout = checkInteger('idleTimeout', value, 0)
  if (idleTimeout > 0 && idleTimeout < MIN_HEARTBEAT_INTERVAL) {
    checkInteger('idleTimeout', idleTimeout, MIN_HEARTBEAT_INTERVAL)
  }
  return idleTimeout
}

function toHeartbeatSettings (heartbeat: ResolvedHeartbeat, idleTimeout: number): HeartbeatSettings {
  return heartbeat === false
    ? { pingInterval: 0, pongTimeout: 0, idleTimeout }
    : { pingInterval: heartbeat.pingInterval, pongTimeout: heartbeat.pongTimeout, idleTimeout }
}

/** Validate the plugin options and apply defaults. Throws FRWS_ERR_OPTION_INVALID naming the option. */
export function resolveOptions (input: unknown): ResolvedOptions {
  const options = checkObject('options', input ?? {})
  checkKnownKeys('', options, PLUGIN_KEYS)
  const heartbeat = resolveHeartbeat('heartbeat', options.heartbeat, DEFAULTS.heartbeat)
  const idleTimeout = checkIdleTimeout(options.idleTimeout ?? DEFAULTS.idleTimeout)
  return {
    originPredicate: compileOriginPolicy('origins', options.origins),
    sessionStore: checkSessionStore(options.sessionStore),
    fanout: checkFanout(options.fanout),
    sessionBudget: resolveSessionBudget(options.sessionBudget),
    allowMissingOrigin: checkBoolean('allowMissingOrigin', options.allowMissingOrigin ?? DEFAULTS.allowMissingOrigin),
    maxPayload: checkInteger('maxPayload', options.maxPayload ?? DEFAULTS.maxPayload, 1),
    maxConnections: checkLimit('maxConnections', options.maxConnections ?? DEFAULTS.maxConnections, 1),
    maxConnectionsPerAddress: checkLimit(
      'maxConnectionsPerAddress', options.maxConnectionsPerAddress ?? DEFAULTS.maxConnectionsPerAddress, 1
    ),
    upgradeRate: resolveUpgradeRate(options.upgradeRate),
    closeTimeout: checkInteger('closeTimeout', options.closeTimeout ?? DEFAULTS.closeTimeout, 0),
    handshakeTimeout: checkInteger('handshakeTimeout', options.handshakeTimeout ?? DEFAULTS.handshakeTimeout, 1),
    heartbeat,
    idleTimeout,
    infoRoute: checkBoolean('infoRoute', options.infoRoute ?? DEFAULTS.infoRoute),
    appPing: DEFAULTS.appPing,
    heartbeatSettings: toHeartbeatSettings(heartbeat, idleTimeout),
    limits: resolveLimits(options as LimitOptions, DEFAULT_LIMITS)
  }
}

/** Merge a route's overrides over the plugin settings, validating them. */
export function resolveRouteSettings (plugin: ResolvedOptions, overrides: WsRouteOverrides): ResolvedRouteSettings {
  const heartbeat = resolveHeartbeat('heartbeat', overrides.heartbeat, plugin.heartbeat)
  const idleTimeout = overrides.idleTimeout === undefined ? plugin.idleTimeout : checkIdleTimeout(overrides.idleTimeout)
  const unchanged = heartbeat === plugin.heartbeat && idleTimeout === plugin.idleTimeout
  return {
    originPredicate: overrides.origins === undefined
      ? plugin.originPredicate
      : compileOriginPolicy('origins', overrides.origins),
    allowMissingOrigin: overrides.allowMissingOrigin === undefined
      ? plugin.allowMissingOrigin
      : checkBoolean('allowMissingOrigin', overrides.allowMissingOrigin),
    handshakeTimeout: overrides.handshakeTimeout === undefined
      ? plugin.handshakeTimeout
      : checkInteger('handshakeTimeout', overrides.handshakeTimeout, 1),
    heartbeat,
    idleTimeout,
    infoRoute: overrides.infoRoute === undefined
      ? plugin.infoRoute
      : checkBoolean('infoRoute', overrides.infoRoute),
    appPing: overrides.appPing === undefined ? plugin.appPing : checkBoolean('appPing', overrides.appPing),
    heartbeatSettings: unchanged ? plugin.heartbeatSettings : toHeartbeatSettings(heartbeat, idleTimeout),
    limits: resolveLimits(overrides, plugin.limits)
  }
}

