import { connect, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'

/**
 * A small round-robin TCP proxy for the cluster example: each new connection goes to the next
 * node; a node that refuses (killed, restarting) is skipped. It passes bytes through untouched, so
 * HTTP pages and WebSocket upgrades work as on the node itself, and a client whose node dies
 * reconnects through it to a live one.
 */
export function startRoundRobinProxy (ports: () => number[], port: number): Promise<Server> {
  let next = 0
  const server = createServer((client: Socket) => {
    client.pause()
    client.on('error', () => {})
    const attempt = (left: number): void => {
      const targets = ports()
      if (left === 0 || targets.length === 0) {
        client.destroy()
        return
      }
      const upstream = connect(targets[next++ % targets.length], '127.0.0.1')
      upstream.once('error', () => {
        if (upstream.bytesRead === 0 && client.bytesWritten === 0 && !client.destroyed) attempt(left - 1)
        else client.destroy()
      })
      upstream.once('connect', () => {
        if (client.destroyed) {
          upstream.destroy()
          return
        }
        upstream.on('error', () => client.destroy())
        upstream.on('close', () => client.destroy())
        client.on('close', () => upstream.destroy())
        client.pipe(upstream)
        upstream.pipe(client)
        client.resume()
      })
    }
    attempt(ports().length)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}
