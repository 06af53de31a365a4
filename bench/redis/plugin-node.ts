import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import { Redis } from 'ioredis'
import { loadCompiledPlugin } from '../targets/compiled-plugin.js'
import { ECHO_PATH } from '../lib/target-protocol.js'
import { announceNode, nodeSettings } from './node-ipc.js'
import { BROADCAST_ROOM, RESUME_PATH, ROOM_PATH, PUBLISH_PATH } from './paths.js'

type RedisModule = typeof import('../../lib/redis.js')

/**
 * One node of the plugin for the Redis benchmark, running the compiled plugin (dist/). Routes:
 * `ECHO_PATH` reliable echo; `ROOM_PATH` plain, joins the room; `PUBLISH_PATH` plain, broadcasts
 * every message to the room (on every node through RedisFanout); `RESUME_PATH` reliable: after a
 * message `arm:<n>`, the next suspend of the session sends `n` messages for the resume to replay.
 */
const settings = nodeSettings()
const { default: fastifyReliableWs } = await loadCompiledPlugin()
const { RedisFanout, RedisSessionStore } = await import(new URL('../../dist/redis.js', import.meta.url).href) as RedisModule
// Auto-pipelining: the writes of all sessions in one event-loop turn leave in one network write (docs/SCALE-OUT.md).
const redis = new Redis({ port: settings.redisPort, host: '127.0.0.1', enableAutoPipelining: true, maxRetriesPerRequest: 1 })
await new Promise((resolve) => redis.once('ready', resolve))

const app = Fastify({ logger: false })
await app.register(fastifyReliableWs, {
  // Every load client connects from 127.0.0.1: per-address limits would measure themselves.
  maxConnectionsPerAddress: Infinity,
  upgradeRate: false,
  fanout: new RedisFanout({ redis, channel: settings.channel }),
  ...(settings.store === 'redis' ? { sessionStore: new RedisSessionStore({ redis, keyPrefix: settings.keyPrefix }) } : {})
})
app.wsRoute(ECHO_PATH, { reliable: true }, (connection) => {
  connection.on('message', (data) => { void connection.send(data) })
})
app.wsRoute(ROOM_PATH, (connection) => {
  connection.join(BROADCAST_ROOM)
  void connection.send('joined')
})
app.wsRoute(PUBLISH_PATH, (connection) => {
  connection.on('message', (data) => { app.wsConnections.broadcast(data, { room: BROADCAST_ROOM }) })
})
app.wsRoute(RESUME_PATH, { reliable: true }, (connection) => {
  let armed = 0
  connection.on('message', (data) => {
    const text = String(data)
    if (text.startsWith('arm:')) armed = Number(text.slice(4))
  })
  connection.on('suspend', () => {
    for (let i = 1; i <= armed; i++) connection.send(`r${i}`).catch(() => {})
    armed = 0
  })
})
await app.listen({ host: '127.0.0.1', port: 0 })
announceNode((app.server.address() as AddressInfo).port)
