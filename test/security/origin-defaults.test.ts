import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import type { FastifyReliableWsOptions } from '../../lib/index.js'
import { buildApp, cleanup, echoRoute, httpCall, listen, openClient, refusedStatus } from '../helpers/server.js'
import { hasOpenssl, makeTestCertificate } from '../helpers/tls.js'
import type { TestCertificate } from '../helpers/tls.js'

/** A listening app with an echo route `/ws` and a reliable route `/r` whose handlers count their runs. */
async function start (t: { after: (fn: () => unknown) => void }, options: FastifyReliableWsOptions = {}): Promise<{ url: string, port: string, runs: () => number }> {
  let runs = 0
  const app = await buildApp(options, (app) => {
    echoRoute(app)
    app.wsRoute('/r', { reliable: true }, () => { runs++ })
    app.addHook('onRequest', async (request) => { if (request.ws) runs++ })
  })
  t.after(() => cleanup(app))
  const url = await listen(app)
  return { url, port: new URL(url).port, runs: () => runs }
}

/** Upgrade `url` with these headers and expect the echo to work. */
async function assertEchoes (url: string, options: { origin?: string, headers?: Record<string, string>, rejectUnauthorized?: boolean }): Promise<void> {
  const client = await openClient(url, options)
  try {
    client.socket.send('hello')
    assert.equal(await client.next(), 'hello')
  } finally {
    client.socket.terminate()
  }
}

describe('the default origin policy against DNS rebinding', () => {
  test('a rebinding page (Host and Origin both the attacker name) gets 403 before the upgrade, on plain and reliable routes', async (t) => {
    const { url, port, runs } = await start(t)
    for (const [host, origin] of [[`evil.example:${port}`, `http://evil.example:${port}`], ['evil.example', 'http://evil.example']]) {
      for (const path of ['/ws', '/r']) {
        assert.equal(await refusedStatus(url + path, { origin, headers: { host } }), 403, `${host} ${path}`)
      }
    }
    assert.equal(runs(), 4, 'only the app hook ran (4 upgrades); no handler ran')
  })

  test('the info route gives a rebinding page no CORS grant', async (t) => {
    const { url, port } = await start(t)
    const httpBase = url.replace('ws:', 'http:')
    const response = await httpCall(`${httpBase}/ws/info`, { headers: { host: `evil.example:${port}`, origin: `http://evil.example:${port}` } })
    assert.equal(response.headers['access-control-allow-origin'], undefined)
  })

  test('the same page on the loopback IP the server was reached by still upgrades', async (t) => {
    const { url } = await start(t)
    await assertEchoes(`${url}/ws`, { origin: `http://${new URL(url).host}` })
  })

  test('listed origins still work for a named host, and a rebinding page stays refused', async (t) => {
    const { url, port } = await start(t, { origins: ['http://chat.example'] })
    await assertEchoes(`${url}/ws`, { origin: 'http://chat.example', headers: { host: 'chat.example' } })
    assert.equal(await refusedStatus(`${url}/ws`, { origin: `http://evil.example:${port}`, headers: { host: `evil.example:${port}` } }), 403)
  })
})

describe('the default origin policy and the connection scheme (wss)', { skip: hasOpenssl() ? false : 'openssl is not installed' }, () => {
  let certificate: TestCertificate | undefined
  let tls: { key: Buffer, cert: Buffer }
  const apps: FastifyInstance[] = []

  before(async () => {
    certificate = await makeTestCertificate('security')
    tls = { key: await readFile(certificate.key), cert: await readFile(certificate.cert) }
  })
  after(async () => {
    await Promise.all(apps.map((app) => cleanup(app)))
    await certificate?.remove()
  })

  async function startTls (options: FastifyReliableWsOptions = {}): Promise<string> {
    // buildApp is typed for plain HTTP; Fastify serves TLS with the same options plus `https`.
    const app = await buildApp(options, echoRoute, { logger: false, https: tls } as unknown as FastifyServerOptions)
    apps.push(app)
    return (await listen(app)).replace('ws:', 'wss:')
  }

  test('an http:// page may not open the wss:// socket of its own host; the https:// page may', async () => {
    const url = await startTls()
    const host = new URL(url).host
    assert.equal(await refusedStatus(`${url}/ws`, { origin: `http://${host}`, rejectUnauthorized: false }), 403)
    await assertEchoes(`${url}/ws`, { origin: `https://${host}`, rejectUnauthorized: false })
  })

  test('an http:// origin listed explicitly is admitted on wss (configured on purpose)', async () => {
    const url = await startTls({ origins: 'http://app.example' })
    await assertEchoes(`${url}/ws`, { origin: 'http://app.example', rejectUnauthorized: false })
  })
})
