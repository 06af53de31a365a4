import { isIP } from 'node:net'
import type { FastifyRequest } from 'fastify'
import { invalidOption } from './option-checks.js'

/**
 * Which browser origins may open a WebSocket or read the plugin's HTTP routes cross-origin
 * (docs/SECURITY.md, "Origin policy").
 * - `undefined` (default): same origin on a rebinding-proof host only. The Origin's host and port
 *   must equal the request's host (Fastify's `request.host`, which honours `trustProxy` and
 *   `X-Forwarded-Host`), that host must be a loopback name (`localhost`, `*.localhost`) or an IP
 *   literal, and the Origin's scheme must match the connection's security (`https` pages on TLS
 *   connections, `http` pages on plain ones; `request.protocol` honours `X-Forwarded-Proto`). A
 *   named host such as `chat.example.com` is refused: a DNS-rebinding page controls both its
 *   Origin and the Host header, so only a list can tell the real site from it. Production
 *   deployments list their origins.
 * - `'*'`: every origin (development only: it disables the cross-site WebSocket hijacking guard).
 * - an exact origin string (`'https://app.example.com'`), a RegExp tested against the Origin,
 *   or an array of both.
 * - a function `(origin, request) => boolean | Promise<boolean>`.
 */
export type OriginOption =
  | '*'
  | string
  | RegExp
  | ReadonlyArray<string | RegExp>
  | ((origin: string, request: FastifyRequest) => boolean | Promise<boolean>)

/** The compiled policy: decides one request. Compiled once at registration (like @fastify/cors). */
export type OriginPredicate = (origin: string, request: FastifyRequest) => boolean | Promise<boolean>

/** What an origin check concludes. */
export type OriginVerdict = 'allowed' | 'forbidden' | 'missing'

/** Lower-case scheme and host, drop a default port: `HTTPS://App.example.com:443` -> `https://app.example.com`. */
function normalizeOrigin (origin: string): string | undefined {
  try {
    const url = new URL(origin)
    return url.origin === 'null' ? undefined : url.origin
  } catch {
    return undefined
  }
}

/**
 * True for hosts a DNS-rebinding page cannot present as its own: browsers resolve `localhost`
 * names to loopback themselves (RFC 6761), and an IP literal involves no DNS at all.
 */
function isRebindingProof (hostname: string): boolean {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
  return isIP(bare) !== 0
}

function sameOriginOnRebindingProofHost (origin: string, request: FastifyRequest): boolean {
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return false
  }
  if (url.host !== request.host.toLowerCase() || !isRebindingProof(url.hostname)) return false
  // An http:// page must not reach a wss:// socket (and an https:// page is not served over plain http).
  return url.protocol === (request.protocol === 'https' ? 'https:' : 'http:')
}

function compileExact (name: string, value: string): string {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    url = undefined
  }
  // An origin is scheme, host and optional port: a path, query or credentials is a mistake worth reporting.
  if (url === undefined || url.origin === 'null' || url.pathname !== '/' || /[?#@]/.test(value)) {
    invalidOption(name, 'an origin like "https://app.example.com" (scheme, host, optional port; no path)', value)
  }
  return url.origin
}

/**
 * Compile the `origins` option into one predicate, validating it. `name` is the option's
 * name as the user wrote it, for error messages.
 */
export function compileOriginPolicy (name: string, option: unknown): OriginPredicate {
  if (option === undefined) return sameOriginOnRebindingProofHost
  if (option === '*') return () => true
  if (typeof option === 'function') return option as OriginPredicate
  const entries: unknown[] = Array.isArray(option) ? option : [option]
  if (entries.length === 0) invalidOption(name, 'a non-empty list of origins', option)
  const exact = new Set<string>()
  const patterns: RegExp[] = []
  entries.forEach((entry, index) => {
    const entryName = Array.isArray(option) ? `${name}[${index}]` : name
    if (entry instanceof RegExp) patterns.push(entry)
    else if (typeof entry === 'string' && entry !== '*') exact.add(compileExact(entryName, entry))
    else invalidOption(entryName, "an origin string or a RegExp ('*' only on its own)", entry)
  })
  return (origin) => {
    const normalized = normalizeOrigin(origin)
    if (normalized !== undefined && exact.has(normalized)) return true
    for (const pattern of patterns) {
      pattern.lastIndex = 0
      if (pattern.test(origin)) return true
    }
    return false
  }
}

/** Apply a compiled policy to a request. */
export async function checkOrigin (
  predicate: OriginPredicate,
  allowMissingOrigin: boolean,
  request: FastifyRequest
): Promise<OriginVerdict> {
  return await originVerdict(predicate, allowMissingOrigin, request)
}

/**
 * {@link checkOrigin} without a promise when the answer is known at once (no Origin header, or a
 * predicate that answers synchronously, as the built-in policies do): the upgrade path calls it
 * once per handshake (issue 12).
 */
export function originVerdict (
  predicate: OriginPredicate,
  allowMissingOrigin: boolean,
  request: FastifyRequest
): OriginVerdict | Promise<OriginVerdict> {
  const origin = request.headers.origin
  if (origin === undefined || origin === '') return allowMissingOrigin ? 'allowed' : 'missing'
  const allowed = predicate(origin, request)
  if (typeof allowed === 'boolean') return allowed ? 'allowed' : 'forbidden'
  return Promise.resolve(allowed).then((ok) => ok ? 'allowed' : 'forbidden')
}
