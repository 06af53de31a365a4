import type { FastifyReliableWsOptions, HeartbeatOptions } from '../lib/index.js'

/** The example server's settings, read from the environment by {@link configFromEnv}. */
export interface ExampleConfig {
  /** TCP port to listen on. @default 3000 */
  port: number
  /** Address to listen on. @default '127.0.0.1' */
  host: string
  /** Path of the echo WebSocket route. @default '/ws' */
  wsPath: string
  /** How long shutdown waits for close handshakes, in ms (the plugin's `closeTimeout`). @default 5000 */
  closeTimeout: number
  /** PEM certificate and key paths; when set the server speaks HTTPS and `wss`. @default undefined */
  tls: { certPath: string, keyPath: string } | undefined
  /** Options passed to the plugin. Only what the environment sets; the plugin's defaults fill the rest. */
  plugin: FastifyReliableWsOptions
}

/** The environment variables the example reads. */
export type ExampleEnv = Readonly<Record<string, string | undefined>>

/** One or more environment variables have values the example cannot use. */
export class ConfigError extends Error {
  /** One line per bad variable, e.g. `PORT: expected an integer from 0 to 65535, received "abc"`. */
  readonly problems: readonly string[]

  constructor (problems: readonly string[]) {
    super(`Invalid environment:\n  ${problems.join('\n  ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/** Path of the reliable chat route (example/chat.ts). */
export const CHAT_PATH = '/chat'
/** Path of the reliable echo route the echo page and example/client.ts use. */
export const RELIABLE_ECHO_PATH = '/echo'

const DEFAULT_PORT = 3000
const DEFAULT_HOST = '127.0.0.1'
const DEFAULT_WS_PATH = '/ws'
const DEFAULT_CLOSE_TIMEOUT = 5000
const MAX_PORT = 65_535

/** The value of `name`, or undefined when it is unset or blank. */
function read (env: ExampleEnv, name: string): string | undefined {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? undefined : value
}

/**
 * Read the example's settings from environment variables. Pure: it reads `env` only (no files,
 * no `process`), so tests pass a plain object. Throws a {@link ConfigError} listing every bad
 * variable. The plugin checks its own options again at registration (e.g. the heartbeat's minimum).
 *
 * Variables: `PORT`, `HOST`, `WS_PATH`, `ALLOWED_ORIGINS` (comma list of exact origins, or `*`),
 * `CLOSE_TIMEOUT_MS`, `MAX_PAYLOAD` (bytes), `TLS_CERT` and `TLS_KEY` (PEM paths, both or neither),
 * `HEARTBEAT_INTERVAL_MS`, `HEARTBEAT_TIMEOUT_MS`.
 */
export function configFromEnv (env: ExampleEnv): ExampleConfig {
  const problems: string[] = []

  function integer (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const text = read(env, name)
    if (text === undefined) return undefined
    const value = /^\d+$/.test(text) ? Number(text) : NaN
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`
      problems.push(`${name}: expected an integer ${range}, received ${JSON.stringify(text)}`)
      return undefined
    }
    return value
  }

  const port = integer('PORT', 0, MAX_PORT) ?? DEFAULT_PORT
  const host = read(env, 'HOST') ?? DEFAULT_HOST
  const wsPath = readWsPath(env, problems)
  const closeTimeout = integer('CLOSE_TIMEOUT_MS', 0) ?? DEFAULT_CLOSE_TIMEOUT
  const maxPayload = integer('MAX_PAYLOAD', 1)
  const origins = readOrigins(env, problems)
  const tls = readTls(env, problems)
  const pingInterval = integer('HEARTBEAT_INTERVAL_MS', 1)
  const pongTimeout = integer('HEARTBEAT_TIMEOUT_MS', 1)

  if (problems.length > 0) throw new ConfigError(problems)

  const plugin: FastifyReliableWsOptions = { closeTimeout }
  if (origins !== undefined) plugin.origins = origins
  if (maxPayload !== undefined) plugin.maxPayload = maxPayload
  if (pingInterval !== undefined || pongTimeout !== undefined) {
    const heartbeat: HeartbeatOptions = {}
    if (pingInterval !== undefined) heartbeat.pingInterval = pingInterval
    if (pongTimeout !== undefined) heartbeat.pongTimeout = pongTimeout
    plugin.heartbeat = heartbeat
  }
  return { port, host, wsPath, closeTimeout, tls, plugin }
}

function readWsPath (env: ExampleEnv, problems: string[]): string {
  const path = read(env, 'WS_PATH')
  if (path === undefined) return DEFAULT_WS_PATH
  // The page is served at `/`, and a query or fragment is not part of a route path.
  if (!/^\/[^\s?#]+$/.test(path)) {
    problems.push(`WS_PATH: expected a path like "/ws" (starts with "/", not "/" alone, no spaces, "?" or "#"), received ${JSON.stringify(path)}`)
    return DEFAULT_WS_PATH
  }
  if (path === CHAT_PATH || path === RELIABLE_ECHO_PATH) {
    problems.push(`WS_PATH: ${JSON.stringify(path)} is taken by the example's reliable routes (${CHAT_PATH}, ${RELIABLE_ECHO_PATH})`)
    return DEFAULT_WS_PATH
  }
  return path
}

function readOrigins (env: ExampleEnv, problems: string[]): string | string[] | undefined {
  const text = read(env, 'ALLOWED_ORIGINS')
  if (text === undefined) return undefined
  if (text === '*') return '*'
  const origins = text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  const bad = origins.filter((origin) => !isExactOrigin(origin))
  if (origins.length === 0 || bad.length > 0) {
    problems.push(
      'ALLOWED_ORIGINS: expected a comma list of origins like "https://app.example.com,http://localhost:8080" ' +
      `(scheme, host, optional port; no path) or "*", received ${JSON.stringify(text)}`
    )
    return undefined
  }
  return origins
}

function isExactOrigin (origin: string): boolean {
  try {
    const url = new URL(origin)
    return url.origin !== 'null' && url.origin === origin.replace(/\/$/, '').toLowerCase()
  } catch {
    return false
  }
}

function readTls (env: ExampleEnv, problems: string[]): ExampleConfig['tls'] {
  const certPath = read(env, 'TLS_CERT')
  const keyPath = read(env, 'TLS_KEY')
  if (certPath === undefined && keyPath === undefined) return undefined
  if (certPath === undefined || keyPath === undefined) {
    problems.push(`TLS_CERT and TLS_KEY: set both or neither (only ${certPath === undefined ? 'TLS_KEY' : 'TLS_CERT'} is set)`)
    return undefined
  }
  return { certPath, keyPath }
}
