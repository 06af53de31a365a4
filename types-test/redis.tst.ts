import { describe, expect, test } from 'tstyche'
import { Cluster, Redis } from 'ioredis'
import type { Fanout, FastifyReliableWsOptions, SessionStore } from '../lib/index.js'
import { RedisFanout, RedisSessionStore } from '../lib/redis.js'

describe('fastify-reliable-ws/redis', () => {
  test('the Redis store is a SessionStore on a Redis or a Cluster client', () => {
    expect(new RedisSessionStore({ redis: new Redis({ lazyConnect: true }) })).type.toBeAssignableTo<SessionStore>()
    expect(new RedisSessionStore({ redis: new Cluster([]), keyPrefix: 'app:', leaseTimeout: 60_000, commandTimeout: 2000 })).type.toBeAssignableTo<SessionStore>()
    expect(RedisSessionStore).type.not.toBeConstructableWith({})
    expect(RedisSessionStore).type.not.toBeConstructableWith({ redis: 'redis://127.0.0.1' })
  })

  test('the Redis fan-out is the fanout option', () => {
    const fanout = new RedisFanout({ redis: new Redis({ lazyConnect: true }), channel: 'app:fanout', onError: (error: Error) => { void error } })
    expect(fanout).type.toBeAssignableTo<Fanout>()
    expect({ fanout }).type.toBeAssignableTo<FastifyReliableWsOptions>()
    expect({ fanout: 'redis' }).type.not.toBeAssignableTo<FastifyReliableWsOptions>()
  })
})
