/**
 * `fastify-reliable-ws/redis`: scale out on Redis (docs/SCALE-OUT.md). Needs the optional peer
 * dependency `ioredis`.
 */
export { RedisSessionStore } from './store/redis-session-store.js'
export type { RedisSessionStoreOptions } from './store/redis-session-store.js'
export { RedisFanout } from './fanout/redis-fanout.js'
export type { RedisFanoutOptions } from './fanout/redis-fanout.js'
