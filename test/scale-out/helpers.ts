import WebSocket from 'ws'
import { ReliableClient } from '../../lib/client/index.js'
import { startChildServer } from '../helpers/child-server.js'
import type { ChildServer } from '../helpers/child-server.js'

const FIXTURE = new URL('../helpers/fixtures/redis-node.ts', import.meta.url)

/** Start `count` nodes (child processes) on the Redis at `redisPort`. */
export async function startNodes (count: number, redisPort: number, keyPrefix: string): Promise<ChildServer[]> {
  return await Promise.all(Array.from({ length: count }, async () =>
    await startChildServer({ fixture: FIXTURE, options: { redisPort, keyPrefix, channel: `${keyPrefix}fanout` } })))
}

/**
 * A reliable client behind a pretend load balancer: every (re)connect goes to `balancer.target`,
 * and `balancer.cut()` drops the current socket from the client side (as a balancer would when a
 * node stops answering).
 */
export interface BalancedClient {
  client: ReliableClient
  /** Text messages received, in order. */
  received: string[]
  balancer: { target: string, cut: () => void }
}

/** Open a reliable client on `path` through a balancer that starts at `target`. */
export async function balancedClient (target: string, path: string): Promise<BalancedClient> {
  const sockets: WebSocket[] = []
  const balancer = {
    target,
    cut: () => { for (const socket of sockets.splice(0)) socket.terminate() }
  }
  class TrackedWebSocket extends WebSocket {
    constructor (url: string, protocols?: string | string[]) {
      super(url, protocols)
      sockets.push(this)
    }
  }
  const client = new ReliableClient(() => `${balancer.target}${path}`, { WebSocket: TrackedWebSocket, baseDelay: 20, maxDelay: 200 })
  const received: string[] = []
  client.on('message', (data) => { received.push(String(data)) })
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve())
    client.once('end', ({ code, reason }) => reject(new Error(`client ended before its session: ${code} ${reason}`)))
  })
  return { client, received, balancer }
}

/** Wait until `predicate` holds, polling; fails after `ms` naming `what` (a function: read at the time of failure). */
export async function until (predicate: () => boolean | Promise<boolean>, what: string | (() => string), ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
