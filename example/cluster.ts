/**
 * The scale-out example: `npm run example:cluster` (docs/SCALE-OUT.md). Starts `NODES` (3) nodes
 * as separate processes sharing one Redis for reliable sessions and broadcasts, behind a small
 * round-robin TCP proxy on `PORT` (3000); the nodes listen on `PORT + 1`, `PORT + 2`, ... (with
 * `PORT=0`, everything on free ports). Redis: `REDIS_URL`, or else a `redis-server` this script
 * starts on a free port and stops at the end. Each node serves the reliable echo at `/echo` and
 * the chat of example/chat.ts at `/chat`: a chat message reaches the room's members on every node,
 * and a client whose node dies reconnects through the proxy and resumes on another one. Kill a
 * node (`kill -9 <pid>`, printed at start) to see it. SIGINT or SIGTERM stops everything.
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import type { Server } from 'node:net'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import fastifyReliableWs from '../lib/index.js'
import { RedisFanout, RedisSessionStore } from '../lib/redis.js'
import { registerChat } from './chat.js'
import { startRoundRobinProxy } from './cluster-proxy.js'
import { startLocalRedis } from './cluster-redis.js'
import type { LocalRedis } from './cluster-redis.js'

const basePort = Number(process.env.PORT ?? 3000)
const nodeCount = Number(process.env.NODES ?? 3)

/** One node: the plugin on Redis, the echo and the chat; tells the parent its port once listening. */
async function runNode (redisUrl: string, port: number): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true, enableAutoPipelining: true })
  const app = Fastify({ logger: { level: 'info' } })
  redis.on('error', (error: Error) => app.log.warn({ err: error }, 'redis connection error'))
  await redis.connect()
  await app.register(fastifyReliableWs, {
    sessionStore: new RedisSessionStore({ redis, keyPrefix: 'example:' }),
    fanout: new RedisFanout({ redis, channel: 'example:fanout', onError: (error) => app.log.warn({ err: error }, 'fan-out error') })
  })
  app.wsRoute('/echo', { reliable: true }, (connection) => {
    connection.on('message', (data) => { void connection.send(data) })
  })
  registerChat(app)
  app.addHook('onClose', async () => { redis.disconnect() })
  await app.listen({ host: '127.0.0.1', port })
  const stop = (): void => { void app.close().then(() => process.exit(0)) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  process.send?.({ listening: (app.server.address() as { port: number }).port })
}

/** The parent: Redis, the nodes, the proxy; stops everything together, and at once if a node fails. */
async function runCluster (): Promise<void> {
  let localRedis: LocalRedis | undefined
  if (process.env.REDIS_URL === undefined) {
    localRedis = await startLocalRedis()
    console.log(`redis: ${localRedis.url} (started here; set REDIS_URL to use another)`)
  }
  const redisUrl = process.env.REDIS_URL ?? localRedis?.url ?? ''
  const children: ChildProcess[] = []
  const ports: number[] = []
  const running: { proxy?: Server } = {}
  let stopping = false
  const stop = (code: number): void => {
    if (stopping) return
    stopping = true
    running.proxy?.close()
    const alive = children.filter((child) => child.exitCode === null && child.signalCode === null)
    let left = alive.length
    const done = (): void => {
      localRedis?.stop()
      process.exit(code)
    }
    if (left === 0) done()
    for (const child of alive) {
      child.once('exit', () => { if (--left === 0) done() })
      child.kill('SIGTERM')
    }
  }
  process.once('SIGINT', () => stop(0))
  process.once('SIGTERM', () => stop(0))
  const listening = Array.from({ length: nodeCount }, (_, i) => new Promise<void>((resolve) => {
    const port = basePort === 0 ? 0 : basePort + 1 + i
    const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, CLUSTER_NODE: JSON.stringify({ redisUrl, port }) } })
    children.push(child)
    child.on('message', (message: { listening?: number }) => {
      if (message.listening === undefined) return
      ports[i] = message.listening
      console.log(`node ${i}: ws://127.0.0.1:${message.listening} (pid ${child.pid ?? '?'})`)
      resolve()
    })
    // A node that fails at start (port taken, Redis unreachable) stops the example instead of leaving it half up.
    child.once('exit', (code, signal) => {
      if (stopping || ports[i] !== undefined) {
        if (!stopping) console.log(`node ${i} exited (${code ?? signal}); the proxy skips it`)
        return
      }
      console.error(`node ${i} failed to start (${code ?? signal}): stopping`)
      stop(1)
    })
  }))
  await Promise.all(listening)
  const proxy = await startRoundRobinProxy(() => ports.filter((_, i) => children[i].exitCode === null && children[i].signalCode === null), basePort)
  running.proxy = proxy
  console.log(`proxy: ws://127.0.0.1:${(proxy.address() as { port: number }).port} (round robin over ${nodeCount} nodes)`)
}

const nodeSettings = process.env.CLUSTER_NODE
if (nodeSettings === undefined) await runCluster()
else {
  const { redisUrl, port } = JSON.parse(nodeSettings) as { redisUrl: string, port: number }
  await runNode(redisUrl, port)
}
