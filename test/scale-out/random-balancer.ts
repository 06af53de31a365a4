import { once } from 'node:events'
import { connect, createServer } from 'node:net'
import type { Socket } from 'node:net'

/** A TCP load balancer for tests that sends every new connection to a node picked at random. */
export interface RandomBalancer {
  /** `ws://127.0.0.1:<port>` of the balancer. */
  readonly url: string
  /** Ports of the nodes new connections may go to (a node being stopped is taken out first). */
  ports: number[]
  /** Connections each node port received. */
  readonly picks: Map<number, number>
  /** Drop every connection passing through now (both sides), as a balancer restart would. */
  cut (): void
  close (): Promise<void>
}

const ATTEMPTS = 20

/**
 * Start a balancer on a free port. `random` (seeded by the test, which prints the seed) picks the
 * node of every connection; a node that refuses (killed, closing) is skipped by picking again.
 */
export async function startRandomBalancer (random: () => number): Promise<RandomBalancer> {
  const open = new Set<Socket>()
  const track = (socket: Socket): void => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  }
  const balancer = {
    url: '',
    ports: [] as number[],
    picks: new Map<number, number>(),
    cut: () => { for (const socket of [...open]) socket.destroy() },
    close: async () => {
      balancer.cut()
      server.close()
      await once(server, 'close')
    }
  }
  const server = createServer((client) => {
    client.pause()
    client.on('error', () => {})
    track(client)
    const attempt = (left: number): void => {
      if (left === 0 || balancer.ports.length === 0 || client.destroyed) {
        client.destroy()
        return
      }
      const port = balancer.ports[Math.floor(random() * balancer.ports.length)]
      const upstream = connect(port, '127.0.0.1')
      let connected = false
      upstream.once('error', () => {
        if (!connected) attempt(left - 1)
      })
      upstream.once('connect', () => {
        connected = true
        if (client.destroyed) {
          upstream.destroy()
          return
        }
        balancer.picks.set(port, (balancer.picks.get(port) ?? 0) + 1)
        track(upstream)
        upstream.on('error', () => client.destroy())
        upstream.on('close', () => client.destroy())
        client.on('close', () => upstream.destroy())
        client.pipe(upstream)
        upstream.pipe(client)
        client.resume()
      })
    }
    attempt(ATTEMPTS)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  balancer.url = `ws://127.0.0.1:${(server.address() as { port: number }).port}`
  return balancer
}
