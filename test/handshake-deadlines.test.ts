import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, cleanup, delay, listen, rawUpgrade } from './helpers/server.js'

describe('handshake deadlines (one shared timer)', () => {
  test('a route handshakeTimeout shorter than the plugin\'s answers 408 at the route\'s deadline, counted from the arrival', async (t) => {
    const app = await buildApp({ handshakeTimeout: 20_000 }, (app) => {
      app.wsRoute('/strict', { handshakeTimeout: 300, preValidation: async () => { await delay(3000) } }, () => {})
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const started = performance.now()
    const slow = await rawUpgrade(`${url}/strict`)
    const waited = performance.now() - started
    t.after(() => slow.socket.destroy())
    assert.equal(slow.status, 408)
    assert.ok(waited >= 299, `408 after ${waited.toFixed(0)} ms, before the route's 300 ms`)
    // Before the slow hook (3 s) or the plugin's deadline (20 s) could have answered.
    assert.ok(waited < 3000, `408 after ${waited.toFixed(0)} ms: the route's deadline did not apply`)
  })

  test('upgrades that complete leave the queue: a later slow one still gets its own 408', async (t) => {
    const app = await buildApp({ handshakeTimeout: 300 }, (app) => {
      app.wsRoute('/ws', {
        preValidation: async (request) => { if (request.headers['x-slow'] === '1') await delay(3000) }
      }, () => {})
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    for (let i = 0; i < 5; i++) {
      const quick = await rawUpgrade(`${url}/ws`)
      quick.socket.destroy()
      assert.equal(quick.status, 101)
    }
    const started = performance.now()
    const slow = await rawUpgrade(`${url}/ws`, { 'x-slow': '1' })
    const waited = performance.now() - started
    t.after(() => slow.socket.destroy())
    assert.equal(slow.status, 408)
    assert.ok(waited >= 299 && waited < 3000, `408 after ${waited.toFixed(0)} ms`)
  })
})
