/**
 * The scale-out example: `npm run example:cluster` (docs/SCALE-OUT.md). Starts `NODES` (3) nodes
 * as separate processes on ports `PORT` (3000), `PORT + 1`, ... sharing the Redis at `REDIS_URL`
 * (`redis://127.0.0.1:6379`) for reliable sessions and broadcasts. Each node serves the reliable
 * echo at `/echo` and the chat of example/chat.ts at `/chat`: a chat message reaches the room's
 * members on every node, and a client whose node dies resumes on another one. Kill a node
 * (`kill -9 <pid>`, printed at start) and reconnect to another port to see it. SIGINT or SIGTERM
 * stops every node.
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import fastifyReliableWs from '../lib/index.js'
import { RedisFanout, RedisSessionStore } from '../lib/redis.js'
import { registerChat } from './chat.js'

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const basePort = Number(process.env.PORT ?? 3000)
const nodeCount = Number(process.env.NODES ?? 3)

/** One node: the plugin on Redis, the echo and the chat. */
async function runNode (port: number): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true })
  redis.on('error', (error: Error) => app.log.warn({ err: error }, 'redis connection error'))
  const app = Fastify({ logger: { level: 'info' } })
  try {
    await redis.connect()
  } catch (error) {
    console.error(`node on port ${port}: cannot reach Redis at ${redisUrl} (${(error as Error).message}); set REDIS_URL`)
    process.exit(1)
  }
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
}

/** The parent: fork the nodes and stop them together. */
function runCluster (): void {
  const children: ChildProcess[] = []
  for (let i = 0; i < nodeCount; i++) {
    const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, CLUSTER_NODE_PORT: String(basePort + i) } })
    children.push(child)
    console.log(`node ${i}: ws://127.0.0.1:${basePort + i} (pid ${child.pid ?? '?'})`)
  }
  const stop = (): void => { for (const child of children) child.kill('SIGTERM') }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

const nodePort = process.env.CLUSTER_NODE_PORT
if (nodePort === undefined) runCluster()
else await runNode(Number(nodePort))
