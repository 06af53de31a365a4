import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fastifyWebsocket from '@fastify/websocket'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import fastifyReliableWs from '../lib/index.js'
import type { FastifyReliableWsOptions } from '../lib/index.js'
import { cleanup, echoRoute, listen, openClient, withExpiry } from './helpers/server.js'

/** An app that registers @fastify/websocket itself, then this plugin, with an echo route at /ws. */
async function buildAppWithWebsocketFirst (options: FastifyReliableWsOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(fastifyWebsocket)
  await app.register(fastifyReliableWs, options)
  echoRoute(app)
  return app
}

describe('an app that registered @fastify/websocket before the plugin', () => {
  test('the plugin registers and its routes echo', async (t) => {
    const app = await buildAppWithWebsocketFirst()
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/ws`)
    t.after(() => client.socket.terminate())
    client.socket.send('hello')
    assert.equal(await client.next(), 'hello')
    assert.equal(app.wsConnections.size, 1)
  })

  test('routes declared with @fastify/websocket directly keep working beside ours', async (t) => {
    const app = await buildAppWithWebsocketFirst()
    app.get('/plain', { websocket: true }, (socket) => { socket.on('message', (data) => socket.send(`plain:${data}`)) })
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/plain`)
    t.after(() => client.socket.terminate())
    client.socket.send('x')
    assert.equal(await client.next(), 'plain:x')
  })

  test('maxPayload still applies: an oversized message closes with 1009', async (t) => {
    const app = await buildAppWithWebsocketFirst({ maxPayload: 1024 })
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/ws`)
    t.after(() => client.socket.terminate())
    client.socket.send('x'.repeat(2048))
    assert.equal((await withExpiry(client.closed, 2000, 'the 1009 close')).code, 1009)
  })

  test('fastify.close() still closes clients with 1001 and the reason, not 1005', async (t) => {
    const app = await buildAppWithWebsocketFirst()
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/ws`)
    t.after(() => client.socket.terminate())
    await withExpiry(app.close(), 5000, 'fastify.close()')
    assert.deepEqual(await withExpiry(client.closed, 2000, 'the close event'), { code: 1001, reason: 'server shutting down' })
  })

  test('fastify.close() resolves and empties the registry', async (t) => {
    const app = await buildAppWithWebsocketFirst()
    t.after(() => cleanup(app))
    const url = await listen(app)
    const clients = await Promise.all([1, 2].map(() => openClient(`${url}/ws`)))
    t.after(() => { for (const client of clients) client.socket.terminate() })
    await withExpiry(app.close(), 5000, 'fastify.close()')
    assert.equal(app.wsConnections.size, 0)
    for (const client of clients) assert.equal(client.socket.readyState, client.socket.CLOSED)
  })
})

describe('compression through @fastify/websocket', () => {
  test('perMessageDeflate set on @fastify/websocket is negotiated on the plugin\'s routes', async (t) => {
    const app = Fastify({ logger: false })
    await app.register(fastifyWebsocket, { options: { perMessageDeflate: { threshold: 0 } } })
    await app.register(fastifyReliableWs)
    echoRoute(app)
    t.after(() => cleanup(app))
    const base = await listen(app)
    const plain = await openClient(`${base}/ws`, { perMessageDeflate: true })
    t.after(() => plain.socket.terminate())
    assert.match(plain.socket.extensions, /permessage-deflate/)
    plain.socket.send('z'.repeat(10_000))
    assert.equal(await plain.next(), 'z'.repeat(10_000))
    const uncompressed = await openClient(`${base}/ws`, { perMessageDeflate: false })
    t.after(() => uncompressed.socket.terminate())
    assert.equal(uncompressed.socket.extensions, '', 'a client that does not offer it gets none')
  })
})
