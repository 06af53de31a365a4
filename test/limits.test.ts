import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { buildApp, cleanup, delay, echoRoute, httpCall, httpUrl, listen, openClient, rawUpgrade, refusedStatus, waitFor, withExpiry } from './helpers/server.js'

describe('maxPayload', () => {
  test('an oversized message closes that connection with 1009 while the others keep echoing', async (t) => {
    const app = await buildApp({ maxPayload: 1024 }, echoRoute)
    t.after(() => cleanup(app))
    const url = await listen(app)
    const [big, other, third] = await Promise.all([1, 2, 3].map(() => openClient(`${url}/ws`)))
    t.after(() => { for (const client of [big, other, third]) client.socket.terminate() })

    big.socket.send('x'.repeat(1024))
    assert.equal((await big.next()).length, 1024, 'a message of exactly maxPayload passes')
    big.socket.send('x'.repeat(1025))
    assert.equal((await withExpiry(big.closed, 2000, 'the 1009 close')).code, 1009)

    for (const client of [other, third]) {
      client.socket.send('still here')
      assert.equal(await client.next(), 'still here')
    }
    await waitFor(() => app.wsConnections.size === 2, 'the oversized connection to leave')
  })

  test('an oversized binary message closes with 1009 too', async (t) => {
    const app = await buildApp({ maxPayload: 1024 }, echoRoute)
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/ws`)
    t.after(() => client.socket.terminate())
    client.socket.send(Buffer.alloc(4096))
    assert.equal((await withExpiry(client.closed, 2000, 'the 1009 close')).code, 1009)
  })
})

describe('maxConnections', () => {
  test('the upgrade beyond the limit gets 503 and no upgrade; after one closes a new one is accepted', async (t) => {
    let runs = 0
    const app = await buildApp({ maxConnections: 2 }, (app) => {
      app.wsRoute('/ws', (connection) => {
        runs++
        connection.on('message', (data) => { void connection.send(data) })
      })
      app.wsRoute('/other', () => { runs++ })
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const first = await openClient(`${url}/ws`)
    const second = await openClient(`${url}/ws`)
    t.after(() => { first.socket.terminate(); second.socket.terminate() })

    assert.equal(await refusedStatus(`${url}/ws`), 503)
    assert.equal(await refusedStatus(`${url}/other`), 503, 'the limit spans every route of the plugin')
    assert.equal(runs, 2)
    assert.equal(app.wsConnections.size, 2)

    first.socket.close()
    await waitFor(() => app.wsConnections.size === 1, 'a slot to free up')
    const third = await openClient(`${url}/ws`)
    t.after(() => third.socket.terminate())
    third.socket.send('hello')
    assert.equal(await third.next(), 'hello')
    assert.equal(runs, 3)
  })

  test('upgrades still in their hooks count against the limit', async (t) => {
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    let hookStarted: () => void = () => {}
    const inHook = new Promise<void>((resolve) => { hookStarted = resolve })
    const app = await buildApp({ maxConnections: 1 }, (app) => {
      app.wsRoute('/ws', {
        preValidation: async (request: FastifyRequest) => {
          if (request.headers['x-slow'] === '1') { hookStarted(); await gate }
        }
      }, () => {})
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const slow = openClient(`${url}/ws`, { headers: { 'x-slow': '1' } })
    await withExpiry(inHook, 2000, 'the slow upgrade to reach its hook')
    assert.equal(await refusedStatus(`${url}/ws`), 503)
    release()
    const opened = await slow
    t.after(() => opened.socket.terminate())
    assert.equal(app.wsConnections.size, 1)
  })
})

describe('handshakeTimeout', () => {
  test('a route preValidation hook slower than handshakeTimeout gets 408 and registers nothing', async (t) => {
    let runs = 0
    let slowHookDone = false
    const app = await buildApp({ handshakeTimeout: 200, maxConnections: 1 }, (app) => {
      app.wsRoute('/ws', {
        preValidation: async (request: FastifyRequest) => {
          if (request.headers['x-slow'] === '1') { await delay(600); slowHookDone = true }
        }
      }, (connection) => {
        runs++
        connection.on('message', (data) => { void connection.send(data) })
      })
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const slow = await rawUpgrade(`${url}/ws`, { 'x-slow': '1' })
    t.after(() => slow.socket.destroy())
    assert.equal(slow.status, 408)
    // Once the slow hook has finished, the late upgrade must still not open.
    await waitFor(() => slowHookDone, 'the slow hook to finish', 3000)

    // The timed-out upgrade no longer holds the only slot; this round trip also gives the late one time to go wrong.
    const client = await openClient(`${url}/ws`)
    t.after(() => client.socket.terminate())
    client.socket.send('ok')
    assert.equal(await client.next(), 'ok')
    assert.equal(runs, 1, 'only the second upgrade reached the handler')
    assert.equal(app.wsConnections.size, 1)
  })

  test('a ws client whose upgrade is held by a slow route onRequest hook sees it fail', async (t) => {
    let hookDone = false
    const app = await buildApp({ handshakeTimeout: 200 }, (app) => {
      app.wsRoute('/ws', { onRequest: async () => { await delay(600); hookDone = true } }, () => {})
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const status = await refusedStatus(`${url}/ws`)
    assert.equal(status, 408)
    await waitFor(() => hookDone, 'the slow hook to finish', 3000)
    // A later request's answer proves the server went on after the hook: the late upgrade did not open.
    assert.equal((await httpCall(`${httpUrl(app)}/ws/info`)).status, 200)
    assert.equal(app.wsConnections.size, 0)
  })

  test('a slow app-level onRequest hook is bounded by handshakeTimeout too', async (t) => {
    const app = await buildApp({ handshakeTimeout: 200 }, (app) => {
      app.addHook('onRequest', async (_request: FastifyRequest, _reply: FastifyReply) => { await delay(600) })
      app.wsRoute('/ws', () => {})
    })
    // cleanup() drops the raw client (it would ignore close frames) before closing the app.
    t.after(() => cleanup(app))
    const url = await listen(app)
    const slow = await rawUpgrade(`${url}/ws`)
    assert.equal(slow.status, 408)
  })

  test('a route handshakeTimeout override applies to that route only', async (t) => {
    const app = await buildApp({ handshakeTimeout: 200 }, (app) => {
      const slowHook = { preValidation: async () => { await delay(400) } }
      app.wsRoute('/patient', { ...slowHook, handshakeTimeout: 5000 }, (connection) => { void connection.send('in') })
      app.wsRoute('/strict', slowHook, () => {})
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const patient = await openClient(`${url}/patient`)
    t.after(() => patient.socket.terminate())
    assert.equal(await patient.next(), 'in')
    const status = await refusedStatus(`${url}/strict`)
    assert.equal(status, 408)
  })
})
