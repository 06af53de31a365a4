/**
 * Where a fault proxy forwards to, in the forms a test has at hand: a port, `host:port`, or the
 * URL `app.listen()` resolves to.
 */

/**
 * The server a fault proxy forwards to:
 * - a port number: `127.0.0.1` and that port;
 * - `'host:port'` (IPv6 in brackets: `'[::1]:3000'`);
 * - a URL such as the `http://127.0.0.1:3000` that `app.listen()` resolves to (`http:`, `https:`,
 *   `ws:`, `wss:`; the default port of the scheme when the URL has none; the path is ignored).
 */
export type FaultProxyTarget = number | string

/** A resolved target: where to connect, and whether the traffic is TLS (for the proxy's URL scheme). */
export interface ResolvedTarget {
  host: string
  port: number
  secure: boolean
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'ws:': 80, 'https:': 443, 'wss:': 443 }

function invalid (target: unknown, why: string): TypeError {
  return new TypeError(`createFaultProxy: invalid target ${JSON.stringify(target)}: ${why}`)
}

function checkPort (target: unknown, port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(target, 'the port must be an integer from 1 to 65535')
  return port
}

/** `[::1]` → `::1`: `net.connect` wants the bare address. */
function unbracket (host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}

/**
 * Turn a {@link FaultProxyTarget} into host, port and scheme.
 * @throws {TypeError} naming the target when it is none of the accepted forms
 */
export function resolveTarget (target: FaultProxyTarget): ResolvedTarget {
  if (typeof target === 'number') return { host: '127.0.0.1', port: checkPort(target, target), secure: false }
  if (typeof target !== 'string') throw invalid(target, 'expected a port, "host:port" or a URL')
  if (target.includes('://')) {
    let url: URL
    try {
      url = new URL(target)
    } catch {
      throw invalid(target, 'not a URL')
    }
    const defaultPort = DEFAULT_PORTS[url.protocol]
    if (defaultPort === undefined) throw invalid(target, 'the scheme must be http:, https:, ws: or wss:')
    const port = url.port === '' ? defaultPort : Number(url.port)
    return { host: unbracket(url.hostname), port, secure: url.protocol === 'https:' || url.protocol === 'wss:' }
  }
  const colon = target.lastIndexOf(':')
  if (colon <= 0) throw invalid(target, 'expected "host:port"')
  const port = target.slice(colon + 1)
  if (!/^\d+$/.test(port)) throw invalid(target, 'the port must be an integer from 1 to 65535')
  return { host: unbracket(target.slice(0, colon)), port: checkPort(target, Number(port)), secure: false }
}
