import Fastify from 'fastify'
import { describe, expect, test } from 'tstyche'
import fastifyReliableWs from '../lib/index.js'
import type { FastifyReliableWsOptions, UpgradeRateOptions } from '../lib/index.js'

const app = Fastify()

describe('admission options', () => {
  test('per-address limits compile, and false or Infinity turn them off', () => {
    expect(app.register(fastifyReliableWs, {
      maxConnectionsPerAddress: 50,
      upgradeRate: { perAddress: 20, interval: 60_000 }
    })).type.not.toRaiseError()
    expect(app.register(fastifyReliableWs, { maxConnectionsPerAddress: Infinity, upgradeRate: false })).type.not.toRaiseError()
    expect<UpgradeRateOptions>().type.toBeAssignableFrom({ perAddress: 5 })
    expect<FastifyReliableWsOptions['upgradeRate']>().type.toBe<UpgradeRateOptions | false | undefined>()
  })

  test('wrong types do not compile', () => {
    // @ts-expect-error Type 'true' is not assignable
    app.register(fastifyReliableWs, { upgradeRate: true })
    // @ts-expect-error Type 'string' is not assignable to type 'number'
    app.register(fastifyReliableWs, { maxConnectionsPerAddress: '10' })
    // @ts-expect-error 'burst' does not exist
    app.register(fastifyReliableWs, { upgradeRate: { burst: 5 } })
  })
})
