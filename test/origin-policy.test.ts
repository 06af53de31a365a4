import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { compileOriginPolicy } from '../lib/origin-policy.js'
import type { FastifyReliableWsOptions, OriginOption } from '../lib/index.js'
import { buildApp, captureLogs, cleanup, echoRoute, listen, LogLevel, openClient, refusedStatus, waitFor } from './helpers/server.js'

const FOREIGN = 'https://evil.example'
const ALLOWED = 'https://app.example.com'

/** An app whose `/ws` handler counts its runs; listening on 127.0.0.1. */
async function start (
  t: { after: (fn: () => unknown) => void },
  options: FastifyReliableWsOptions,
  setup?: (app: FastifyInstance) => void
): Promise<{ app: FastifyInstance, url: string, handled: () => number }> {
  let runs = 0
  const app = await buildApp(options, (app) => {
    app.wsRoute('/ws', (connection) => {
      runs++
      connection.on('message', (data) => { void connection.send(data) })
    })
    setup?.(app)
  })
  t.after(() => cleanup(app))
  const url = await listen(app)
  return { app, url, handled: () => runs }
}

/** Upgrade with `origin` (or none), expect 101, echo once, close. */
async function assertUpgrades (url: string, origin: string | undefined, headers: Record<string, string> = {}): Promise<void> {
  const client = await openClient(url, origin === undefined ? { headers } : { origin, headers })
  try {
    client.socket.send('ping')
    assert.equal(await client.next(), 'ping')
  } finally {
    client.socket.terminate()
  }
}

describe('the upgrade origin check', () => {
  test('a foreign Origin gets HTTP 403 and no upgrade', async (t) => {
    const { app, url, handled } = await start(t, { origins: ALLOWED })
    assert.equal(await refusedStatus(`${url}/ws`, { origin: FOREIGN }), 403)
    assert.equal(app.wsConnections.size, 0)
    assert.equal(handled(), 0)
  })

  test('a foreign Origin is refused through fastify.injectWS as well', async (t) => {
    const app = await buildApp({ origins: ALLOWED }, echoRoute)
    t.after(() => cleanup(app))
    await app.ready()
    await assert.rejects(app.injectWS('/ws', { headers: { origin: FOREIGN } }), /Unexpected server response: 403/)
    assert.equal(app.wsConnections.size, 0)
    const socket = await app.injectWS('/ws', { headers: { origin: ALLOWED } })
    socket.terminate()
  })

  const allowing: Array<[string, OriginOption]> = [
    ['an exact origin string', ALLOWED],
    ['a list holding the exact origin', ['https://other.example', ALLOWED]],
    ['a RegExp', /^https:\/\/[a-z]+\.example\.com$/],
    ['a function', (origin: string) => origin === ALLOWED],
    ['an async function', async (origin: string) => { await Promise.resolve(); return origin === ALLOWED }],
    ["'*'", '*']
  ]
  for (const [name, origins] of allowing) {
    test(`an allowed origin passes with 101 when origins is ${name}`, async (t) => {
      const { app, url, handled } = await start(t, { origins })
      await assertUpgrades(`${url}/ws`, ALLOWED)
      assert.equal(handled(), 1)
      if (origins !== '*') {
        assert.equal(await refusedStatus(`${url}/ws`, { origin: FOREIGN }), 403)
        assert.equal(handled(), 1)
      }
      await waitFor(() => app.wsConnections.size === 0, 'the registry to empty')
    })
  }

  test('an origin function receives the upgrade request and may decide on its headers', async (t) => {
    const seen: string[] = []
    const origins = (origin: string, request: FastifyRequest): boolean => {
      seen.push(origin)
      return request.headers['x-tenant'] === 'acme'
    }
    const { url } = await start(t, { origins })
    await assertUpgrades(`${url}/ws`, ALLOWED, { 'x-tenant': 'acme' })
    assert.equal(await refusedStatus(`${url}/ws`, { origin: FOREIGN, headers: { 'x-tenant': 'other' } }), 403)
    assert.deepEqual(seen, [ALLOWED, FOREIGN])
  })

  test('an origin function that throws refuses the upgrade with 500 and logs its error', async (t) => {
    const logs = captureLogs()
    let runs = 0
    const app = await buildApp({ origins: () => { throw new Error('policy store down') } }, (app) => {
      app.wsRoute('/ws', () => { runs++ })
    }, { logger: { level: 'info', stream: logs.stream } })
    t.after(() => cleanup(app))
    const url = await listen(app)
    // The policy failed, not the client: a server error (as @fastify/cors answers), never 101 and never a 403 that blames the origin.
    assert.equal(await refusedStatus(`${url}/ws`, { origin: ALLOWED }), 500)
    const errors = logs.lines.filter((line) => line.level >= LogLevel.error)
    assert.deepEqual(errors.map((line) => (line.err as { message?: string } | undefined)?.message), ['policy store down'])
    assert.equal(runs, 0)
    assert.equal(app.wsConnections.size, 0)
  })

  test('by default an Origin with the same host as the request passes and another host is refused', async (t) => {
    const { app, url, handled } = await start(t, {})
    const host = new URL(url).host
    await assertUpgrades(`${url}/ws`, `http://${host}`)
    assert.equal(await refusedStatus(`${url}/ws`, { origin: 'http://evil.example' }), 403)
    assert.equal(await refusedStatus(`${url}/ws`, { origin: `http://${host}.evil.example` }), 403)
    assert.equal(await refusedStatus(`${url}/ws`, { origin: 'http://127.0.0.1:1' }), 403)
    assert.equal(await refusedStatus(`${url}/ws`, { origin: `https://${host}` }), 403, 'an https page is not this plain-http server')
    assert.equal(handled(), 1)
    await waitFor(() => app.wsConnections.size === 0, 'the registry to empty')
  })

  test('behind a trusted proxy the default policy reads X-Forwarded-Host and -Proto, and still refuses a named host', async (t) => {
    const app = await buildApp({}, echoRoute, { logger: false, trustProxy: true })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const named = { 'x-forwarded-host': 'chat.example.com', 'x-forwarded-proto': 'https' }
    assert.equal(await refusedStatus(`${url}/ws`, { origin: 'https://chat.example.com', headers: named }), 403,
      'a named host must be listed in origins: DNS rebinding forges both Origin and Host')
    const literal = { 'x-forwarded-host': '10.0.0.5:8443', 'x-forwarded-proto': 'https' }
    await assertUpgrades(`${url}/ws`, 'https://10.0.0.5:8443', literal)
    assert.equal(await refusedStatus(`${url}/ws`, { origin: 'http://10.0.0.5:8443', headers: literal }), 403, 'the scheme follows X-Forwarded-Proto')
    assert.equal(await refusedStatus(`${url}/ws`, { origin: `http://${new URL(url).host}`, headers: literal }), 403)
  })

  test('a request without an Origin upgrades by default (non-browser clients)', async (t) => {
    const { handled, url } = await start(t, {})
    await assertUpgrades(`${url}/ws`, undefined)
    assert.equal(handled(), 1)
  })

  test('a request without an Origin gets 403 when allowMissingOrigin is false', async (t) => {
    const { app, url, handled } = await start(t, { origins: ALLOWED, allowMissingOrigin: false })
    assert.equal(await refusedStatus(`${url}/ws`), 403)
    assert.equal(handled(), 0)
    assert.equal(app.wsConnections.size, 0)
    await assertUpgrades(`${url}/ws`, ALLOWED)
  })

  test("a route's own origins option overrides the plugin's", async (t) => {
    const { url } = await start(t, { origins: ALLOWED }, (app) => {
      app.wsRoute('/partner', { origins: 'https://partner.example' }, (connection) => {
        connection.on('message', (data) => { void connection.send(data) })
      })
    })
    await assertUpgrades(`${url}/partner`, 'https://partner.example')
    assert.equal(await refusedStatus(`${url}/partner`, { origin: ALLOWED }), 403)
    await assertUpgrades(`${url}/ws`, ALLOWED)
    assert.equal(await refusedStatus(`${url}/ws`, { origin: 'https://partner.example' }), 403)
  })

  test("a route's allowMissingOrigin overrides the plugin's", async (t) => {
    const { url } = await start(t, { allowMissingOrigin: false }, (app) => {
      app.wsRoute('/cli', { allowMissingOrigin: true }, (connection) => {
        connection.on('message', (data) => { void connection.send(data) })
      })
    })
    await assertUpgrades(`${url}/cli`, undefined)
    assert.equal(await refusedStatus(`${url}/ws`), 403)
  })
})

describe('compileOriginPolicy', () => {
  const request = (host: string, protocol = 'http'): FastifyRequest => ({ host, protocol, headers: { host } }) as unknown as FastifyRequest

  test('an exact origin matches regardless of case, a default port or a trailing slash in the Origin', async () => {
    const allows = compileOriginPolicy('origins', 'https://app.example.com')
    for (const origin of ['https://app.example.com', 'HTTPS://App.Example.COM', 'https://app.example.com:443', 'https://app.example.com/']) {
      assert.equal(await allows(origin, request('x')), true, origin)
    }
    for (const origin of ['http://app.example.com', 'https://app.example.com:8443', 'https://app.example.com.evil.example', 'null', 'not a url', '']) {
      assert.equal(await allows(origin, request('x')), false, origin)
    }
  })

  test('configured origins are normalised: upper case and a trailing slash are accepted', async () => {
    const allows = compileOriginPolicy('origins', ['HTTPS://App.Example.com/', 'http://localhost:3000'])
    assert.equal(await allows('https://app.example.com', request('x')), true)
    assert.equal(await allows('http://localhost:3000', request('x')), true)
    assert.equal(await allows('http://localhost', request('x')), false)
  })

  test('a configured origin with its default port written out matches the Origin browsers send', async () => {
    const allows = compileOriginPolicy('origins', ['https://app.example.com:443', 'http://localhost:80'])
    assert.equal(await allows('https://app.example.com', request('x')), true)
    assert.equal(await allows('http://localhost', request('x')), true)
  })

  test('a non-default port is part of the origin', async () => {
    const allows = compileOriginPolicy('origins', 'https://app.example.com:8443')
    assert.equal(await allows('https://app.example.com:8443', request('x')), true)
    assert.equal(await allows('https://app.example.com', request('x')), false)
  })

  test('a global RegExp gives the same answer on every call', async () => {
    const allows = compileOriginPolicy('origins', /example\.com$/g)
    for (let i = 0; i < 3; i++) assert.equal(await allows('https://app.example.com', request('x')), true)
    assert.equal(await allows('https://example.org', request('x')), false)
  })

  test('without a policy only a same-origin page on a loopback name or an IP literal passes', async () => {
    const allows = compileOriginPolicy('origins', undefined)
    assert.equal(await allows('http://127.0.0.1:3000', request('127.0.0.1:3000')), true)
    assert.equal(await allows('http://[::1]:3000', request('[::1]:3000')), true)
    assert.equal(await allows('http://LOCALHOST:3000', request('localhost:3000')), true)
    assert.equal(await allows('http://app.localhost', request('app.localhost')), true)
    assert.equal(await allows('https://10.1.2.3', request('10.1.2.3', 'https')), true)
    assert.equal(await allows('http://127.0.0.1:3001', request('127.0.0.1:3000')), false)
    assert.equal(await allows('https://chat.example.com', request('chat.example.com', 'https')), false, 'a named host must be listed')
    assert.equal(await allows('http://evil.example', request('evil.example')), false, 'a DNS-rebinding page')
    assert.equal(await allows('http://localhost.evil.example', request('localhost.evil.example')), false)
    assert.equal(await allows('https://evil.example', request('127.0.0.1')), false)
    assert.equal(await allows('null', request('127.0.0.1')), false)
  })

  test('without a policy the Origin scheme must match the connection: no http page on a TLS socket, nor the reverse', async () => {
    const allows = compileOriginPolicy('origins', undefined)
    assert.equal(await allows('http://127.0.0.1:3000', request('127.0.0.1:3000', 'https')), false)
    assert.equal(await allows('https://127.0.0.1:3000', request('127.0.0.1:3000', 'http')), false)
    assert.equal(await allows('https://127.0.0.1:3000', request('127.0.0.1:3000', 'https')), true)
  })

  test("'*' allows every origin", async () => {
    const allows = compileOriginPolicy('origins', '*')
    assert.equal(await allows('https://anything.example', request('x')), true)
  })

  test('an invalid entry is reported with its index in the list', () => {
    assert.throws(() => compileOriginPolicy('origins', ['https://ok.example', 'ok.example']), {
      code: 'FRWS_ERR_OPTION_INVALID', message: /"origins\[1\]"/
    })
    assert.throws(() => compileOriginPolicy('origins', 'https://app.example.com/path'), {
      code: 'FRWS_ERR_OPTION_INVALID', message: /"origins"/
    })
  })
})
