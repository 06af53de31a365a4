import Fastify from 'fastify'
import { describe, expect, test } from 'tstyche'
import fastifyReliableWs from '../lib/index.js'
import type { FastifyReliableWsOptions, RateLimitOptions } from '../lib/index.js'

const app = Fastify()

describe('limit options', () => {
  test('the plugin takes maxBufferedBytes, drainTimeout and rateLimit', () => {
    expect(app.register(fastifyReliableWs, {
      maxBufferedBytes: 1024 * 1024,
      drainTimeout: 0,
      rateLimit: { messagesPerSecond: 1000, bytesPerSecond: Infinity, burstSeconds: 2 }
    })).type.not.toRaiseError()
    expect(app.register(fastifyReliableWs, { rateLimit: false })).type.not.toRaiseError()
    expect<FastifyReliableWsOptions['rateLimit']>().type.toBe<RateLimitOptions | false | undefined>()
  })

  test('wrong types do not compile', () => {
    // @ts-expect-error Type 'string' is not assignable to type 'number'
    app.register(fastifyReliableWs, { maxBufferedBytes: '4MiB' })
    // @ts-expect-error Type 'true' is not assignable
    app.register(fastifyReliableWs, { rateLimit: true })
  })

  test('a route overrides them, and reliable routes take maxRequestsInFlight', () => {
    expect(app.wsRoute('/ws', { rateLimit: false, maxBufferedBytes: 65536, drainTimeout: 1000 }, () => {})).type.not.toRaiseError()
    expect(app.wsRoute('/r', { reliable: { maxRequestsInFlight: 16 } }, () => {})).type.not.toRaiseError()
  })
})
