import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import fastifyReliableWs from '../lib/index.js'
import type { FastifyReliableWsOptions, WsRouteOptions } from '../lib/index.js'
import { buildApp, cleanup, echoRoute, httpCall, httpUrl, listen, openClient, withExpiry } from './helpers/server.js'

/** [option as written, value, the name the error must give]. */
const invalidPluginOptions: Array<[string, Record<string, unknown>, string]> = [
  ['origins: a bare host', { origins: 'example.com' }, 'origins'],
  ['origins: an origin with a path', { origins: 'https://example.com/app' }, 'origins'],
  ["origins: '*' inside a list", { origins: ['https://a.example', '*'] }, 'origins[1]'],
  ['origins: an empty list', { origins: [] }, 'origins'],
  ['origins: a number', { origins: 42 }, 'origins'],
  ['origins: null', { origins: null }, 'origins'],
  ['allowMissingOrigin: a string', { allowMissingOrigin: 'yes' }, 'allowMissingOrigin'],
  ['allowMissingOrigin: 0', { allowMissingOrigin: 0 }, 'allowMissingOrigin'],
  ['maxPayload: 0', { maxPayload: 0 }, 'maxPayload'],
  ['maxPayload: -1', { maxPayload: -1 }, 'maxPayload'],
  ['maxPayload: 1.5', { maxPayload: 1.5 }, 'maxPayload'],
  ["maxPayload: '1'", { maxPayload: '1' }, 'maxPayload'],
  ['maxConnections: 0', { maxConnections: 0 }, 'maxConnections'],
  ['maxConnections: NaN', { maxConnections: NaN }, 'maxConnections'],
  ['maxConnections: -Infinity', { maxConnections: -Infinity }, 'maxConnections'],
  ['closeTimeout: -1', { closeTimeout: -1 }, 'closeTimeout'],
  ['closeTimeout: Infinity', { closeTimeout: Infinity }, 'closeTimeout'],
  ['handshakeTimeout: 0', { handshakeTimeout: 0 }, 'handshakeTimeout'],
  ['heartbeat.pingInterval: 0', { heartbeat: { pingInterval: 0 } }, 'heartbeat.pingInterval'],
  ["heartbeat.pongTimeout: 'x'", { heartbeat: { pongTimeout: 'x' } }, 'heartbeat.pongTimeout'],
  ['heartbeat: an unknown key', { heartbeat: { unknown: 1 } }, 'heartbeat.unknown'],
  ["heartbeat: 'yes'", { heartbeat: 'yes' }, 'heartbeat'],
  ['heartbeat: true', { heartbeat: true }, 'heartbeat'],
  ['idleTimeout: -5', { idleTimeout: -5 }, 'idleTimeout'],
  ["infoRoute: 'no'", { infoRoute: 'no' }, 'infoRoute'],
  ["fanout: 'redis'", { fanout: 'redis' }, 'fanout'],
  ['fanout: an object without publish', { fanout: { start: () => {}, close: () => {} } }, 'fanout'],
  ['a typo of a known option', { maxPayLoad: 1024 }, 'maxPayLoad']
]

/** A quoted option name in the error message, e.g. `"maxPayload"`. */
function naming (name: string): RegExp {
  return new RegExp(`"${name.replace(/[.[\]]/g, '\\$&')}"`)
}

describe('plugin options', () => {
  for (const [title, options, name] of invalidPluginOptions) {
    test(`registration fails with FRWS_ERR_OPTION_INVALID naming the option for ${title}`, async (t) => {
      const app = Fastify({ logger: false })
      t.after(() => cleanup(app))
      await assert.rejects(
        async () => { await app.register(fastifyReliableWs, options as FastifyReliableWsOptions) },
        { code: 'FRWS_ERR_OPTION_INVALID', message: naming(name) }
      )
    })
  }

  test('the error message says what the option accepts and what it received', async (t) => {
    const app = Fastify({ logger: false })
    t.after(() => cleanup(app))
    await assert.rejects(async () => { await app.register(fastifyReliableWs, { maxPayload: -1 }) }, {
      name: 'FastifyError',
      code: 'FRWS_ERR_OPTION_INVALID',
      message: 'Invalid option "maxPayload": expected an integer >= 1, received -1'
    })
  })

  test('a plugin registered without await fails app.ready() with the option error', async (t) => {
    const app = Fastify({ logger: false })
    t.after(() => cleanup(app))
    void app.register(fastifyReliableWs, { closeTimeout: -1 })
    await assert.rejects(async () => { await app.ready() }, { code: 'FRWS_ERR_OPTION_INVALID', message: naming('closeTimeout') })
  })

  test('options that are not an object are refused', async (t) => {
    const app = Fastify({ logger: false })
    t.after(() => cleanup(app))
    await assert.rejects(async () => { await app.register(fastifyReliableWs, 'yes' as never) }, { code: 'FRWS_ERR_OPTION_INVALID' })
  })

  test('a full valid option set registers and its values apply', async (t) => {
    const app = await buildApp({
      origins: ['https://app.example.com', /^https:\/\/[a-z]+\.partner\.example$/],
      allowMissingOrigin: false,
      maxPayload: 2048,
      maxConnections: Infinity,
      closeTimeout: 0,
      handshakeTimeout: 1000,
      heartbeat: { pingInterval: 15_000, pongTimeout: 5000 },
      idleTimeout: 120_000,
      infoRoute: true
    }, echoRoute)
    t.after(() => cleanup(app))
    const url = await listen(app)
    const info = JSON.parse((await httpCall(`${httpUrl(app)}/ws/info`)).body)
    assert.deepEqual(info.heartbeat, { pingInterval: 15_000, pongTimeout: 5000 })
    assert.equal(info.idleTimeout, 120_000)
    const client = await openClient(`${url}/ws`, { origin: 'https://app.example.com' })
    t.after(() => client.socket.terminate())
    client.socket.send('x'.repeat(2048))
    assert.equal((await client.next()).length, 2048)
    client.socket.send('x'.repeat(2049))
    assert.equal((await withExpiry(client.closed, 2000, 'the 1009 close')).code, 1009)
  })

  test('without options the defaults apply: heartbeat 25 s / 10 s, no idle timeout, 1 MiB maxPayload', async (t) => {
    const app = await buildApp({}, echoRoute)
    t.after(() => cleanup(app))
    const url = await listen(app)
    const info = JSON.parse((await httpCall(`${httpUrl(app)}/ws/info`)).body)
    assert.deepEqual(info.heartbeat, { pingInterval: 25_000, pongTimeout: 10_000 })
    assert.equal(info.idleTimeout, 0)
    const client = await openClient(`${url}/ws`)
    t.after(() => client.socket.terminate())
    client.socket.send(Buffer.alloc(1024 * 1024))
    assert.equal((await client.next(5000)).length, 1024 * 1024, 'exactly 1 MiB passes')
    client.socket.send(Buffer.alloc(1024 * 1024 + 1))
    assert.equal((await withExpiry(client.closed, 5000, 'the 1009 close')).code, 1009)
  })

  test('heartbeat: false and a partial heartbeat object are accepted', async (t) => {
    const app = await buildApp({ heartbeat: { pongTimeout: 2000 } }, (app) => {
      echoRoute(app)
      app.wsRoute('/quiet', { heartbeat: false }, () => {})
    })
    t.after(() => cleanup(app))
    await listen(app)
    const info = JSON.parse((await httpCall(`${httpUrl(app)}/ws/info`)).body)
    assert.deepEqual(info.heartbeat, { pingInterval: 25_000, pongTimeout: 2000 })
    const quiet = JSON.parse((await httpCall(`${httpUrl(app)}/quiet/info`)).body)
    assert.equal(quiet.heartbeat, null)
  })
})

describe('wsRoute arguments', () => {
  const handler = (): void => {}
  const invalidRoutes: Array<[string, (app: ReturnType<typeof Fastify>) => unknown, string, RegExp]> = [
    ['a url without a leading slash', (app) => app.wsRoute('ws', handler), 'FRWS_ERR_ROUTE_INVALID', /url/],
    ['a url that is not a string', (app) => app.wsRoute(42 as never, handler), 'FRWS_ERR_ROUTE_INVALID', /url/],
    ['a missing handler', (app) => app.wsRoute('/ws', {} as WsRouteOptions, undefined as never), 'FRWS_ERR_ROUTE_INVALID', /handler/],
    ['options that are not an object', (app) => app.wsRoute('/ws', 'fast' as never, handler), 'FRWS_ERR_ROUTE_INVALID', /options/],
    ['a bad origins override', (app) => app.wsRoute('/ws', { origins: 'example.com' }, handler), 'FRWS_ERR_OPTION_INVALID', naming('origins')],
    ['a bad heartbeat override', (app) => app.wsRoute('/ws', { heartbeat: { pingInterval: -1 } }, handler), 'FRWS_ERR_OPTION_INVALID', naming('heartbeat.pingInterval')],
    ['a bad handshakeTimeout override', (app) => app.wsRoute('/ws', { handshakeTimeout: 0 }, handler), 'FRWS_ERR_OPTION_INVALID', naming('handshakeTimeout')],
    ['a bad idleTimeout override', (app) => app.wsRoute('/ws', { idleTimeout: -1 }, handler), 'FRWS_ERR_OPTION_INVALID', naming('idleTimeout')],
    ['a bad allowMissingOrigin override', (app) => app.wsRoute('/ws', { allowMissingOrigin: 1 as never }, handler), 'FRWS_ERR_OPTION_INVALID', naming('allowMissingOrigin')],
    ['a bad infoRoute override', (app) => app.wsRoute('/ws', { infoRoute: 'no' as never }, handler), 'FRWS_ERR_OPTION_INVALID', naming('infoRoute')],
    ['a misspelt option (reliabel)', (app) => app.wsRoute('/ws', { reliabel: true } as never, handler), 'FRWS_ERR_OPTION_INVALID', naming('reliabel')],
    ['a Fastify route option a WebSocket route does not take', (app) => app.wsRoute('/ws', { bodyLimit: 10 } as never, handler), 'FRWS_ERR_OPTION_INVALID', naming('bodyLimit')]
  ]
  for (const [title, declare, code, message] of invalidRoutes) {
    test(`wsRoute throws ${code} for ${title}`, async (t) => {
      const app = Fastify({ logger: false })
      t.after(() => cleanup(app))
      await app.register(fastifyReliableWs)
      assert.throws(() => declare(app), { code, message })
    })
  }

  test("Fastify's own route options are accepted beside the plugin's", async (t) => {
    const app = Fastify({ logger: false })
    t.after(() => cleanup(app))
    await app.register(fastifyReliableWs)
    app.wsRoute('/ws', {
      config: { tag: 'a' },
      logLevel: 'warn',
      constraints: {},
      schema: { querystring: { type: 'object' } },
      onRequest: async () => {},
      preValidation: async () => {},
      preHandler: async () => {},
      onResponse: async () => {},
      onError: async () => {},
      reliable: true,
      appPing: true
    }, handler)
    await app.ready()
    assert.ok(app.hasRoute({ method: 'GET', url: '/ws' }))
  })

  test('an invalid route declared inside a plugin fails app.ready()', async (t) => {
    const app = Fastify({ logger: false })
    t.after(() => cleanup(app))
    await app.register(fastifyReliableWs)
    void app.register(async (child) => { child.wsRoute('/ws', { idleTimeout: -1 }, () => {}) })
    await assert.rejects(async () => { await app.ready() }, { code: 'FRWS_ERR_OPTION_INVALID', message: naming('idleTimeout') })
  })
})
