import { createServer, connect, type Socket } from 'node:net'
import { once } from 'node:events'

/** Options of {@link startTcpProxy}. */
export interface TcpProxyOptions {
  /** Port the proxy forwards to. */
  targetPort: number
  /** Host the proxy forwards to. @default '127.0.0.1' */
  targetHost?: string
}

/** A running proxy; see {@link startTcpProxy}. */
export interface TcpProxy {
  /** Port the proxy listens on, on 127.0.0.1. */
  readonly port: number
  /** Connection pairs (client side + upstream side) currently held open. */
  readonly connections: number
  /** Bytes received from either side and thrown away because of {@link blackhole}. */
  readonly droppedBytes: number
  /**
   * Simulate a dead network: stop forwarding both ways, for current and new connections, while
   * keeping every socket open. Data and FINs arriving meanwhile are dropped, never delivered later.
   */
  blackhole (): void
  /**
   * Forward again. A pair one side of which closed during the blackhole is destroyed now (the
   * other side learns it only when the network is back, as with a real outage).
   */
  restore (): void
  /** Destroy every current pair at once: both peers see the TCP connection end, without a WebSocket close frame. */
  cutAll (): void
  /** Stop listening and destroy every pair. */
  close (): Promise<void>
}

interface Pair {
  client: Socket
  upstream: Socket
  /** A side closed while the proxy was blackholed; the other is kept open until `restore()`. */
  halfDead: boolean
}

/**
 * Start a TCP proxy on 127.0.0.1 between clients and `targetPort`, for tests that need a network
 * that vanishes (heartbeat) or breaks (reliable mode). Data sent during a blackhole is dropped:
 * a dead network loses packets, it does not queue them.
 */
export async function startTcpProxy (options: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1'
  const pairs = new Set<Pair>()
  let blackholed = false
  let droppedBytes = 0

  const destroyPair = (pair: Pair): void => {
    pairs.delete(pair)
    pair.client.destroy()
    pair.upstream.destroy()
  }

  const forward = (pair: Pair, from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      if (blackholed) {
        droppedBytes += chunk.length
        return
      }
      if (!to.write(chunk)) {
        from.pause()
        to.once('drain', () => from.resume())
      }
    })
    from.on('end', () => {
      if (!blackholed) to.end()
    })
    from.on('close', () => {
      if (!pairs.has(pair)) return
      if (blackholed) pair.halfDead = true
      else destroyPair(pair)
    })
    from.on('error', () => {})
  }

  const server = createServer((client) => {
    const upstream = connect(options.targetPort, targetHost)
    const pair: Pair = { client, upstream, halfDead: false }
    pairs.add(pair)
    forward(pair, client, upstream)
    forward(pair, upstream, client)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address')

  return {
    port: address.port,
    get connections () {
      return pairs.size
    },
    get droppedBytes () {
      return droppedBytes
    },
    blackhole () {
      blackholed = true
    },
    restore () {
      blackholed = false
      for (const pair of pairs) if (pair.halfDead) destroyPair(pair)
    },
    cutAll () {
      for (const pair of pairs) destroyPair(pair)
    },
    async close () {
      for (const pair of pairs) destroyPair(pair)
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
