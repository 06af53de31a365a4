import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { buildApp, cleanup, listen, openClient, refusedStatus } from './helpers/server.js'

const GOOD = { authorization: 'Bearer good' }

describe('auth before the upgrade', () => {
  test('an app onRequest hook replying 401 refuses the upgrade before the handshake', async (t) => {
    let runs = 0
    const app = await buildApp({}, (app) => {
      app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        if (request.headers.authorization !== GOOD.authorization) return reply.code(401).send({ error: 'no token' })
      })
      app.wsRoute('/ws', (connection) => {
        runs++
        connection.on('message', (data) => { void connection.send(data) })
      })
    })
    t.after(() => cleanup(app))
    const url = await listen(app)

    assert.equal(await refusedStatus(`${url}/ws`), 401)
    assert.equal(await refusedStatus(`${url}/ws`, { headers: { authorization: 'Bearer bad' } }), 401)
    assert.equal(runs, 0)
    assert.equal(app.wsConnections.size, 0)

    const client = await openClient(`${url}/ws`, { headers: GOOD })
    t.after(() => client.socket.terminate())
    client.socket.send('hi')
    assert.equal(await client.next(), 'hi')
    assert.equal(runs, 1)
    assert.equal(app.wsConnections.size, 1)
  })

  test('a route preValidation option replying 403 refuses the upgrade before the handshake', async (t) => {
    let runs = 0
    const app = await buildApp({}, (app) => {
      app.wsRoute('/ws', {
        preValidation: async (request: FastifyRequest, reply: FastifyReply) => {
          if (request.headers.authorization !== GOOD.authorization) return reply.code(403).send({ error: 'forbidden' })
        }
      }, (connection) => {
        runs++
        connection.on('message', (data) => { void connection.send(data) })
      })
    })
    t.after(() => cleanup(app))
    const url = await listen(app)

    assert.equal(await refusedStatus(`${url}/ws`), 403)
    assert.equal(runs, 0)
    assert.equal(app.wsConnections.size, 0)

    const client = await openClient(`${url}/ws`, { headers: GOOD })
    t.after(() => client.socket.terminate())
    client.socket.send('hi')
    assert.equal(await client.next(), 'hi')
    assert.equal(runs, 1)
  })

  test('a hook that throws a 401 error refuses the upgrade with 401', async (t) => {
    let runs = 0
    const app = await buildApp({}, (app) => {
      app.wsRoute('/ws', {
        onRequest: async () => {
          throw Object.assign(new Error('token expired'), { statusCode: 401 })
        }
      }, () => { runs++ })
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    assert.equal(await refusedStatus(`${url}/ws`), 401)
    assert.equal(runs, 0)
    assert.equal(app.wsConnections.size, 0)
  })

  test('upgrades refused by auth after admission do not hold connection slots', async (t) => {
    const app = await buildApp({ maxConnections: 1 }, (app) => {
      app.wsRoute('/ws', {
        preValidation: async (request: FastifyRequest, reply: FastifyReply) => {
          if (request.headers.authorization !== GOOD.authorization) return reply.code(401).send()
        }
      }, () => {})
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    // Each refused upgrade holds the only slot while its hooks run; it must give it back once answered.
    for (let i = 0; i < 5; i++) assert.equal(await refusedStatus(`${url}/ws`), 401)
    const client = await openClient(`${url}/ws`, { headers: GOOD })
    t.after(() => client.socket.terminate())
    assert.equal(app.wsConnections.size, 1)
  })

  test('the handler sees what an auth hook attached to the request', async (t) => {
    const app = await buildApp({}, (app) => {
      app.decorateRequest('user', '')
      app.wsRoute('/ws', {
        preValidation: async (request: FastifyRequest & { user?: string }) => { request.user = 'ada' }
      }, (connection, request) => {
        void connection.send(`hello ${(request as FastifyRequest & { user?: string }).user}`)
      })
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const client = await openClient(`${url}/ws`)
    t.after(() => client.socket.terminate())
    assert.equal(await client.next(), 'hello ada')
  })
})
