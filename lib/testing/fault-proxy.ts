/**
 * A TCP proxy that breaks the network between a client and a server on command, for tests of
 * what an application does when connections drop, hang or slow down.
 */
import { once } from 'node:events'
import { connect, createServer } from 'node:net'
import { ProxyPair } from './proxy-pair.js'
import type { NetworkState } from './proxy-pair.js'
import { resolveTarget } from './proxy-target.js'
import type { FaultProxyTarget } from './proxy-target.js'

export type { FaultProxyTarget } from './proxy-target.js'

/** Options of {@link createFaultProxy}. */
export interface FaultProxyOptions {
  /** The server to forward to: a port, `'host:port'` or a URL such as the one `app.listen()` resolves to. */
  target: FaultProxyTarget
  /** Address the proxy listens on. @default '127.0.0.1' */
  host?: string
  /** Port the proxy listens on; 0 picks a free one. @default 0 */
  port?: number
}

/** A running fault proxy; see {@link createFaultProxy}. */
export interface FaultProxy {
  /**
   * The proxy's base URL: `ws://<host>:<port>` (`wss://` when the target was an `https:` or `wss:`
   * URL; TLS passes through untouched). Append the route's path: `` `${proxy.url}/chat` ``.
   */
  readonly url: string
  /** The port the proxy listens on. */
  readonly port: number
  /** Connections currently held open through the proxy (each a client socket and its upstream socket). */
  readonly connections: number
  /**
   * Bytes the proxy accepted and never delivered because their connection was destroyed first:
   * by {@link cut}, by {@link close}, by a side that closed during a blackhole, or in flight
   * through a {@link delay}.
   */
  readonly droppedBytes: number
  /** Bytes that arrived and wait for {@link restore} (a blackhole) or for their delay: proof that they reached the proxy. */
  readonly heldBytes: number
  /** Connections one side of which closed during the current blackhole, hidden from the other side until {@link restore}. */
  readonly hiddenCloses: number
  /**
   * Reset every current connection at once (a TCP RST to both peers, no WebSocket close frame),
   * as when a NAT or a load balancer forgets them. New connections are accepted as usual.
   */
  cut (): void
  /**
   * The unplugged cable: from now on nothing passes, in either direction, for current and new
   * connections, while every socket stays open. Data and FINs that arrive are held, as TCP keeps
   * retransmitting through an outage; a side that closes is hidden from the other side. New
   * connections are accepted (their upgrade request is held like any data).
   */
  blackhole (): void
  /**
   * From now on every chunk, FIN and close passes `ms` milliseconds after it arrived, in order,
   * both ways. Called during a blackhole, it ends the blackhole as {@link restore} does, except
   * that what was held passes `ms` from now.
   * @param ms added one-way latency, in milliseconds (0 or more)
   */
  delay (ms: number): void
  /**
   * Back to a normal network. Data held by a blackhole or a delay passes at once, in order (the
   * retransmission succeeds); a connection one side of which closed during the blackhole is
   * destroyed instead (the other side learns it only now) and its held data counts as dropped.
   */
  restore (): void
  /** Stop listening and destroy every connection. */
  close (): Promise<void>
}

/**
 * Start a TCP proxy in front of `options.target` and resolve once it listens. Point the client at
 * {@link FaultProxy.url} instead of the server, then break the network with `cut()`,
 * `blackhole()` or `delay(ms)` and mend it with `restore()`. Node only (it uses `node:net`).
 *
 * @example
 * const proxy = await createFaultProxy({ target: await app.listen({ host: '127.0.0.1', port: 0 }) })
 * const client = new ReliableClient(`${proxy.url}/chat`, { WebSocket })
 * proxy.blackhole()
 * @throws {TypeError} when the target is none of the accepted forms
 */
export async function createFaultProxy (options: FaultProxyOptions): Promise<FaultProxy> {
  const target = resolveTarget(options.target)
  const host = options.host ?? '127.0.0.1'
  const network: NetworkState = { mode: 'pass', latency: 0, droppedBytes: 0 }
  const pairs = new Set<ProxyPair>()
  const forget = (pair: ProxyPair): void => { pairs.delete(pair) }

  const server = createServer((client) => {
    const upstream = connect(target.port, target.host)
    pairs.add(new ProxyPair(client, upstream, network, forget))
  })
  server.listen(options.port ?? 0, host)
  // Rejects with the listen error (EADDRINUSE, ...).
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the fault proxy has no TCP address')
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address

  return {
    url: `${target.secure ? 'wss' : 'ws'}://${urlHost}:${address.port}`,
    port: address.port,
    get connections () {
      return pairs.size
    },
    get droppedBytes () {
      return network.droppedBytes
    },
    get heldBytes () {
      let bytes = 0
      for (const pair of pairs) bytes += pair.pendingBytes
      return bytes
    },
    get hiddenCloses () {
      let count = 0
      for (const pair of pairs) if (pair.closedInOutage) count++
      return count
    },
    cut () {
      for (const pair of [...pairs]) pair.destroy(true)
    },
    blackhole () {
      network.mode = 'blackhole'
      network.latency = 0
      for (const pair of pairs) pair.hold()
    },
    delay (ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delay(ms): expected a number of milliseconds >= 0, got ${ms}`)
      const wasBlackholed = network.mode === 'blackhole'
      network.mode = 'delay'
      network.latency = ms
      if (wasBlackholed) for (const pair of [...pairs]) pair.release(ms)
    },
    restore () {
      const wasBlackholed = network.mode === 'blackhole'
      network.mode = 'pass'
      network.latency = 0
      for (const pair of [...pairs]) {
        if (wasBlackholed) pair.release(0)
        else pair.flushNow()
      }
    },
    async close () {
      for (const pair of [...pairs]) pair.destroy(false)
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
