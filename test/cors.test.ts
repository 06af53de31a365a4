import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type { FastifyReliableWsOptions } from '../lib/index.js'
import { SUBPROTOCOL } from '../lib/protocol/version.js'
import { buildApp, cleanup, echoRoute, httpCall, httpUrl, listen } from './helpers/server.js'

const ALLOWED = 'https://app.example.com'
const FOREIGN = 'https://evil.example'

/** An app with the echo route at /ws and an unrelated route at /other, listening; returns its http base URL. */
async function start (
  t: { after: (fn: () => unknown) => void },
  options: FastifyReliableWsOptions = { origins: ALLOWED },
  setup: (app: FastifyInstance) => void = echoRoute
): Promise<string> {
  const app = await buildApp(options, (app) => {
    setup(app)
    app.get('/other', async () => ({ other: true }))
  })
  t.after(() => cleanup(app))
  await listen(app)
  return httpUrl(app)
}

describe('the info route beside a WebSocket route', () => {
  test('GET /ws/info from an allowed origin carries Access-Control-Allow-Origin for that origin and Vary: Origin', async (t) => {
    const base = await start(t)
    const response = await httpCall(`${base}/ws/info`, { headers: { origin: ALLOWED } })
    assert.equal(response.status, 200)
    assert.equal(response.headers['access-control-allow-origin'], ALLOWED)
    assert.match(String(response.headers.vary), /\bOrigin\b/i)
  })

  test('GET /ws/info from a foreign origin carries no Access-Control-Allow-Origin', async (t) => {
    const base = await start(t)
    const response = await httpCall(`${base}/ws/info`, { headers: { origin: FOREIGN } })
    assert.equal(response.headers['access-control-allow-origin'], undefined)
  })

  test('GET /ws/info without an Origin carries no Access-Control-Allow-Origin', async (t) => {
    const base = await start(t)
    const response = await httpCall(`${base}/ws/info`)
    assert.equal(response.status, 200)
    assert.equal(response.headers['access-control-allow-origin'], undefined)
  })

  test('a preflight OPTIONS /ws/info from an allowed origin succeeds with CORS headers', async (t) => {
    const base = await start(t)
    const response = await httpCall(`${base}/ws/info`, {
      method: 'OPTIONS',
      headers: { origin: ALLOWED, 'access-control-request-method': 'GET' }
    })
    assert.ok(response.status === 200 || response.status === 204, `status ${response.status}`)
    assert.equal(response.headers['access-control-allow-origin'], ALLOWED)
    assert.match(String(response.headers['access-control-allow-methods']), /GET/)
  })

  test('a preflight OPTIONS /ws/info from a foreign origin gets no Access-Control-Allow-Origin', async (t) => {
    const base = await start(t)
    const response = await httpCall(`${base}/ws/info`, {
      method: 'OPTIONS',
      headers: { origin: FOREIGN, 'access-control-request-method': 'GET' }
    })
    assert.equal(response.headers['access-control-allow-origin'], undefined)
  })

  test("the app's unrelated routes get no CORS headers, even for an allowed origin", async (t) => {
    const base = await start(t)
    const response = await httpCall(`${base}/other`, { headers: { origin: ALLOWED } })
    assert.equal(response.status, 200)
    assert.deepEqual(JSON.parse(response.body), { other: true })
    for (const name of Object.keys(response.headers)) assert.doesNotMatch(name, /^access-control-/)
  })

  test("a preflight to the app's unrelated route is not answered by the plugin's CORS", async (t) => {
    const base = await start(t)
    const response = await httpCall(`${base}/other`, {
      method: 'OPTIONS',
      headers: { origin: ALLOWED, 'access-control-request-method': 'GET' }
    })
    assert.equal(response.status, 404)
    for (const name of Object.keys(response.headers)) assert.doesNotMatch(name, /^access-control-/)
  })

  test('the info body tells the heartbeat settings and the idle timeout', async (t) => {
    const base = await start(t, { origins: ALLOWED, heartbeat: { pingInterval: 12_000, pongTimeout: 3000 }, idleTimeout: 60_000 })
    const info = JSON.parse((await httpCall(`${base}/ws/info`)).body)
    assert.deepEqual(info.heartbeat, { pingInterval: 12_000, pongTimeout: 3000 })
    assert.equal(info.idleTimeout, 60_000)
  })

  test('the info body names the protocol of a reliable route and null for a plain one', async (t) => {
    const base = await start(t, { origins: ALLOWED }, (app) => {
      echoRoute(app)
      app.wsRoute('/reliable', { reliable: true }, () => {})
    })
    assert.equal(JSON.parse((await httpCall(`${base}/reliable/info`)).body).protocol, SUBPROTOCOL)
    assert.equal(JSON.parse((await httpCall(`${base}/reliable/info`)).body).protocolVersion, 2)
    assert.equal(JSON.parse((await httpCall(`${base}/ws/info`)).body).protocol, null)
    assert.equal(JSON.parse((await httpCall(`${base}/ws/info`)).body).protocolVersion, null)
  })

  test('the info body shows a heartbeat turned off as null', async (t) => {
    const base = await start(t, { heartbeat: false })
    const info = JSON.parse((await httpCall(`${base}/ws/info`)).body)
    assert.equal(info.heartbeat, null)
  })

  test("each route's info follows that route's overrides and origin policy", async (t) => {
    const base = await start(t, { origins: ALLOWED }, (app) => {
      echoRoute(app)
      app.wsRoute('/fast', { origins: 'https://partner.example', heartbeat: { pingInterval: 5000 } }, () => {})
    })
    const fast = await httpCall(`${base}/fast/info`, { headers: { origin: 'https://partner.example' } })
    assert.equal(fast.headers['access-control-allow-origin'], 'https://partner.example')
    assert.deepEqual(JSON.parse(fast.body).heartbeat, { pingInterval: 5000, pongTimeout: 10_000 })
    const crossed = await httpCall(`${base}/fast/info`, { headers: { origin: ALLOWED } })
    assert.equal(crossed.headers['access-control-allow-origin'], undefined)
    const plain = await httpCall(`${base}/ws/info`, { headers: { origin: 'https://partner.example' } })
    assert.equal(plain.headers['access-control-allow-origin'], undefined)
  })

  test('infoRoute: false serves no info route', async (t) => {
    const base = await start(t, { infoRoute: false })
    assert.equal((await httpCall(`${base}/ws/info`, { headers: { origin: ALLOWED } })).status, 404)
  })

  test('a route can turn its own info route off', async (t) => {
    const base = await start(t, {}, (app) => {
      app.wsRoute('/quiet', { infoRoute: false }, () => {})
      echoRoute(app)
    })
    assert.equal((await httpCall(`${base}/quiet/info`)).status, 404)
    assert.equal((await httpCall(`${base}/ws/info`)).status, 200)
  })
})
