import type { OriginOption, OriginPredicate } from './origin-policy.js'
import { compileOriginPolicy } from './origin-policy.js'
import { checkBoolean, checkInteger, checkKnownKeys, checkLimit, checkObject } from './option-checks.js'

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

/** Options of the plugin, given to `fastify.register(fastifyReliableWs, options)`. */
export interface FastifyReliableWsOptions {
  /** Origin policy for upgrades and for the plugin's HTTP routes (CORS). @default same host only */
  origins?: OriginOption
  /** Whether requests without an `Origin` header (non-browser clients) may upgrade. @default true */
  allowMissingOrigin?: boolean
  /** Largest message accepted, in bytes; a larger one closes the connection with 1009. @default 1048576 (1 MiB) */
  maxPayload?: number
  /** Most open connections across all routes of the plugin; more get HTTP 503 before the upgrade. @default 10000 */
  maxConnections?: number
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
}

/** Options that a single `wsRoute()` may override. */
export interface WsRouteOverrides {
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
}

/** Plugin settings after defaults. */
export interface ResolvedOptions extends ResolvedRouteSettings {
  maxPayload: number
  maxConnections: number
  closeTimeout: number
}

/** Defaults, one object spread under the user's options. */
export const DEFAULTS = {
  allowMissingOrigin: true,
  maxPayload: 1024 * 1024,
  maxConnections: 10_000,
  closeTimeout: 5000,
  handshakeTimeout: 10_000,
  heartbeat: { pingInterval: 25_000, pongTimeout: 10_000 },
  idleTimeout: 0,
  infoRoute: true
} as const

const PLUGIN_KEYS = [
  'origins', 'allowMissingOrigin', 'maxPayload', 'maxConnections', 'closeTimeout',
  'handshakeTimeout', 'heartbeat', 'idleTimeout', 'infoRoute'
] as const

function resolveHeartbeat (name: string, value: unknown, base: ResolvedHeartbeat): ResolvedHeartbeat {
  if (value === undefined) return base
  if (value === false) return false
  const options = checkObject(name, value)
  checkKnownKeys(name, options, ['pingInterval', 'pongTimeout'])
  const defaults = base === false ? DEFAULTS.heartbeat : base
  return {
    pingInterval: checkInteger(`${name}.pingInterval`, options.pingInterval ?? defaults.pingInterval, 1),
    pongTimeout: checkInteger(`${name}.pongTimeout`, options.pongTimeout ?? defaults.pongTimeout, 1)
  }
}

/** Validate the plugin options and apply defaults. Throws FRWS_ERR_OPTION_INVALID naming the option. */
export function resolveOptions (input: unknown): ResolvedOptions {
  const options = checkObject('options', input ?? {})
  checkKnownKeys('', options, PLUGIN_KEYS)
  return {
    originPredicate: compileOriginPolicy('origins', options.origins),
    allowMissingOrigin: checkBoolean('allowMissingOrigin', options.allowMissingOrigin ?? DEFAULTS.allowMissingOrigin),
    maxPayload: checkInteger('maxPayload', options.maxPayload ?? DEFAULTS.maxPayload, 1),
    maxConnections: checkLimit('maxConnections', options.maxConnections ?? DEFAULTS.maxConnections, 1),
    closeTimeout: checkInteger('closeTimeout', options.closeTimeout ?? DEFAULTS.closeTimeout, 0),
    handshakeTimeout: checkInteger('handshakeTimeout', options.handshakeTimeout ?? DEFAULTS.handshakeTimeout, 1),
    heartbeat: resolveHeartbeat('heartbeat', options.heartbeat, DEFAULTS.heartbeat),
    idleTimeout: checkInteger('idleTimeout', options.idleTimeout ?? DEFAULTS.idleTimeout, 0),
    infoRoute: checkBoolean('infoRoute', options.infoRoute ?? DEFAULTS.infoRoute)
  }
}

/** Merge a route's overrides over the plugin settings, validating them. */
export function resolveRouteSettings (plugin: ResolvedOptions, overrides: WsRouteOverrides): ResolvedRouteSettings {
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
    heartbeat: resolveHeartbeat('heartbeat', overrides.heartbeat, plugin.heartbeat),
    idleTimeout: overrides.idleTimeout === undefined
      ? plugin.idleTimeout
      : checkInteger('idleTimeout', overrides.idleTimeout, 0),
    infoRoute: overrides.infoRoute === undefined
      ? plugin.infoRoute
      : checkBoolean('infoRoute', overrides.infoRoute)
  }
}

