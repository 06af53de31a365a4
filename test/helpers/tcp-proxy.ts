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
  /** Bytes held during a blackhole that never arrived because their connection died meanwhile. */
  readonly droppedBytes: number
  /** Bytes that arrived during the current blackhole and wait for {@link restore}. */
  readonly heldBytes: number
  /** Pairs one side of which closed during the current blackhole, hidden from the other side until {@link restore}. */
  readonly hiddenCloses: number
  /**
   * Simulate a dead network: stop forwarding both ways, for current and new connections, while
   * keeping every socket open. Data and FINs arriving meanwhile are held, as TCP keeps
   * retransmitting through an outage; nothing is delivered until {@link restore}.
   */
  blackhole (): void
  /**
   * Forward again: held data reaches the other side in order (the retransmission succeeds). A
   * pair one side of which closed during the blackhole is destroyed instead (the other side learns
   * it only now, as with a real outage) and its held data counts as dropped.
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
  /** What arrived during the blackhole, in order: data, or `null` for a FIN, with its destination. */
  held: Array<[Socket, Buffer | null]>
}

/**
 * Start a TCP proxy on 127.0.0.1 between clients and `targetPort`, for tests that need a network
 * that vanishes (heartbeat) or breaks (reliable mode). Data sent during a blackhole is held and
 * delivered on restore: TCP never leaves a hole in a byte stream, it retransmits or the
 * connection dies.
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
        pair.held.push([to, chunk])
        return
      }
      if (!to.write(chunk)) {
        from.pause()
        to.once('drain', () => from.resume())
      }
    })
    from.on('end', () => {
      if (blackholed) pair.held.push([to, null])
      else to.end()
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
    const pair: Pair = { client, upstream, halfDead: false, held: [] }
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
    get heldBytes () {
      let bytes = 0
      for (const pair of pairs) for (const [, chunk] of pair.held) bytes += chunk?.length ?? 0
      return bytes
    },
    get hiddenCloses () {
      let count = 0
      for (const pair of pairs) if (pair.halfDead) count++
      return count
    },
    blackhole () {
      blackholed = true
    },
    restore () {
      blackholed = false
      for (const pair of pairs) {
        const held = pair.held
        pair.held = []
        if (pair.halfDead) {
          for (const [, chunk] of held) droppedBytes += chunk?.length ?? 0
          destroyPair(pair)
          continue
        }
        for (const [to, chunk] of held) {
          if (chunk === null) to.end()
          else to.write(chunk)
        }
      }
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
