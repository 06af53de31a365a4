import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect as netConnect } from 'node:net'
import type { Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fastifyReliableWs from '../../lib/index.js'
import {
  buildApp, captureLogs, cleanup, delay, echoRoute, httpCall, httpUrl, listen, openClient, rawUpgrade, refusedStatus, waitFor, waitForAsync, withExpiry
} from '../helpers/server.js'
import type { RawUpgrade, TestClient } from '../helpers/server.js'
import { startReliable } from '../helpers/protocol-peer.js'

/** A header of a raw response head, or undefined. */
function headerOf (upgrade: RawUpgrade, name: string): string | undefined {
  return new RegExp(`^${name}: *(.*)$`, 'im').exec(upgrade.head)?.[1].trim()
}

/** Open a client, retrying while the server answers 503, for at most `ms`. */
async function admittedWithin (url: string, ms: number, headers: Record<string, string> = {}): Promise<TestClient> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return await openClient(url, { headers })
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 503 || Date.now() > deadline) throw error
      await delay(10)
    }
  }
}

/** Resolves when the client side of a raw socket has closed. */
function socketClosed (socket: Socket, ms = 2000): Promise<void> {
  if (socket.destroyed) return Promise.resolve()
  return withExpiry(new Promise((resolve) => socket.once('close', () => resolve())), ms, 'the server to close the socket')
}

describe('maxConnections counts every held socket', () => {
  test('sockets awaiting their reliable hello count; the extra ones get 503 and, once they close, new clients are admitted at once', async (t) => {
    const app = await buildApp({ maxConnections: 3, upgradeRate: false }, (app) => {
      app.wsRoute('/r', { reliable: true, handshakeTimeout: 30_000 }, () => {})
      echoRoute(app)
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const silent = await Promise.all([1, 2, 3].map(() => rawUpgrade(`${url}/r`)))
    assert.deepEqual(silent.map((upgrade) => upgrade.status), [101, 101, 101])
    assert.equal(app.wsConnections.size, 0, 'no hello yet: none of them is a registered connection')

    const extra = await Promise.all([1, 2].map(() => rawUpgrade(`${url}/r`)))
    assert.deepEqual(extra.map((upgrade) => upgrade.status), [503, 503])
    assert.equal(headerOf(extra[0], 'retry-after'), '5')
    assert.equal(await refusedStatus(`${url}/ws`), 503, 'the limit spans every route')

    for (const upgrade of silent) upgrade.socket.destroy()
    // Long before the 30 s handshake timeout: the slots free up as the sockets close.
    const client = await admittedWithin(`${url}/ws`, 3000)
    client.socket.send('in')
    assert.equal(await client.next(), 'in')
  })

  test('an aborted upgrade stops counting when its socket is gone, not after handshakeTimeout', async (t) => {
    let hooksStarted = 0
    let hooksDone = 0
    let socketsGone = 0
    let release: () => void = () => {}
    const authAnswers = new Promise<void>((resolve) => { release = resolve })
    const app = await buildApp({ maxConnections: 5, handshakeTimeout: 30_000, upgradeRate: false }, (app) => {
      app.wsRoute('/ws', {
        // A slow authentication step (a call to an identity provider) that answers only when the test ends.
        preValidation: async (request: FastifyRequest) => {
          if (request.headers['x-slow'] !== '1') return
          hooksStarted++
          request.raw.socket.once('close', () => { socketsGone++ })
          await authAnswers
          hooksDone++
        }
      }, (connection) => { connection.on('message', (data) => { void connection.send(data) }) })
    })
    t.after(() => { release(); return cleanup(app) })
    const url = await listen(app)
    const { port } = new URL(url)
    const aborted = Array.from({ length: 5 }, () => {
      const socket = netConnect({ host: '127.0.0.1', port: Number(port) })
      socket.on('error', () => {})
      socket.write([
        'GET /ws HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Connection: Upgrade', 'Upgrade: websocket',
        'Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'X-Slow: 1'
      ].join('\r\n') + '\r\n\r\n')
      return socket
    })
    await waitFor(() => hooksStarted === 5, 'the five upgrades to reach the slow hook')
    assert.equal(await refusedStatus(`${url}/ws`), 503, 'five upgrades in their hooks fill the server')

    for (const socket of aborted) socket.resetAndDestroy()
    await waitFor(() => socketsGone === 5, 'the server to see the resets')
    const client = await openClient(`${url}/ws`)
    t.after(() => client.socket.terminate())
    assert.equal(hooksDone, 0, 'admitted while the aborted upgrades were still in their hooks')
    client.socket.send('hello')
    assert.equal(await client.next(), 'hello')
  })

  test('suspended reliable sessions hold no socket and do not block new connections', async (t) => {
    const server = await startReliable({ reliable: true }, { maxConnections: 10, upgradeRate: false })
    t.after(() => server.stop())
    for (let round = 1; round <= 5; round++) {
      const peers = await Promise.all(Array.from({ length: 10 }, () => server.peer()))
      await Promise.all(peers.map((peer) => peer.handshake()))
      for (const peer of peers) peer.terminate()
      await waitFor(() => server.events.filter((event) => event.startsWith('suspend')).length === round * 10, `round ${round} to be suspended`)
    }
    assert.equal(server.app.wsConnections.size, 50, 'fifty suspended sessions wait for a resume')
    const fresh = await server.peer()
    const welcome = await fresh.handshake()
    assert.equal(welcome.resumed, false)
    assert.equal(server.app.wsConnections.size, 51)
  })
})

describe('fastify.injectWS', () => {
  test('injected upgrades count against maxConnections, and one refused with HTTP does not hold fastify.close()', async (t) => {
    const app = await buildApp({ maxConnections: 1, closeTimeout: 60_000, origins: 'https://app.example' }, echoRoute)
    await app.ready()
    const injected = await app.injectWS('/ws', { headers: { origin: 'https://app.example' } })
    await assert.rejects(app.injectWS('/ws', { headers: { origin: 'https://app.example' } }), /Unexpected server response: 503/)
    injected.terminate()
    await waitFor(() => app.wsConnections.size === 0, 'the injected connection to close')
    // The held socket frees its slot when its stream closes, which can come a little after the
    // registry let go of the connection: until then an upgrade is still refused with 503.
    let refusal = ''
    await waitForAsync(async () => {
      refusal = await app.injectWS('/ws', { headers: { origin: 'https://evil.example' } }).then(
        (socket) => { socket.terminate(); return 'admitted' },
        (error: Error) => error.message
      )
      return !refusal.includes('503')
    }, 'the slot of the injected connection to free', 5000)
    assert.match(refusal, /Unexpected server response: 403/)
    t.after(() => cleanup(app))
    await withExpiry(app.close(), 5000, 'fastify.close() with a refused injected upgrade')
  })
})

describe('per-address limits', () => {
  async function appWith (
    t: { after: (fn: () => unknown) => void }, options: Parameters<typeof buildApp>[0], trustProxy: boolean
  ): Promise<{ app: FastifyInstance, url: string, logs: ReturnType<typeof captureLogs> }> {
    const logs = captureLogs()
    const app = await buildApp(options, echoRoute, { trustProxy, logger: { level: 'info', stream: logs.stream } })
    t.after(() => cleanup(app))
    return { app, url: `${await listen(app)}/ws`, logs }
  }
  const from = (ip: string): Record<string, string> => ({ 'x-forwarded-for': ip })

  test('maxConnectionsPerAddress: the next upgrade from that address gets 503 with Retry-After; other addresses and, later, the same one are admitted', async (t) => {
    const { url, logs } = await appWith(t, { maxConnectionsPerAddress: 2, upgradeRate: false }, true)
    const first = await openClient(url, { headers: from('203.0.113.1') })
    await openClient(url, { headers: from('203.0.113.1') })
    const refused = await rawUpgrade(url, from('203.0.113.1'))
    assert.equal(refused.status, 503)
    assert.equal(headerOf(refused, 'retry-after'), '5')
    const line = logs.lines.find((l) => l.msg === 'websocket upgrade refused: too many connections from this address')
    assert.equal(line?.address, '203.0.113.1')
    assert.equal(line?.maxConnectionsPerAddress, 2)

    const other = await openClient(url, { headers: from('203.0.113.2') })
    other.socket.send('other address')
    assert.equal(await other.next(), 'other address')

    first.socket.close()
    await withExpiry(first.closed, 2000, 'the first client to close')
    await admittedWithin(url, 3000, from('203.0.113.1'))
  })

  test('without trustProxy, X-Forwarded-For is ignored: the socket address decides, and a warn line says so once', async (t) => {
    const { url, logs } = await appWith(t, { maxConnectionsPerAddress: 2, upgradeRate: false }, false)
    await openClient(url, { headers: from('203.0.113.1') })
    await openClient(url, { headers: from('203.0.113.2') })
    assert.equal((await rawUpgrade(url, from('203.0.113.3'))).status, 503)
    const hints = logs.lines.filter((l) => l.level === 40 && /X-Forwarded-For but trustProxy is off/.test(l.msg ?? ''))
    assert.equal(hints.length, 1)
  })

  test('upgradeRate: past perAddress upgrades an address gets 429 with Retry-After, logged once; other addresses are admitted', async (t) => {
    const { url, logs } = await appWith(t, { upgradeRate: { perAddress: 3, interval: 60_000 } }, true)
    for (let i = 0; i < 3; i++) {
      const client = await openClient(url, { headers: from('198.51.100.7') })
      client.socket.close()
      await client.closed
    }
    const refused = await rawUpgrade(url, from('198.51.100.7'))
    assert.equal(refused.status, 429)
    assert.equal(headerOf(refused, 'retry-after'), '20', 'one upgrade back every 60 s / 3')
    assert.equal((await rawUpgrade(url, from('198.51.100.7'))).status, 429)
    const warnings = logs.lines.filter((l) => l.msg === 'websocket upgrade refused: upgrade rate exceeded' && l.level === 40)
    assert.equal(warnings.length, 1, 'one warn line per address running dry, not one per refusal')
    assert.equal(warnings[0].address, '198.51.100.7')

    const other = await openClient(url, { headers: from('198.51.100.8') })
    other.socket.send('ok')
    assert.equal(await other.next(), 'ok')
  })

  test('upgradeRate without trustProxy counts the socket address whatever X-Forwarded-For says', async (t) => {
    const { url } = await appWith(t, { upgradeRate: { perAddress: 2, interval: 60_000 } }, false)
    await openClient(url, { headers: from('203.0.113.1') })
    await openClient(url, { headers: from('203.0.113.2') })
    assert.equal((await rawUpgrade(url, from('203.0.113.3'))).status, 429)
  })
})

describe('upgrades only on WebSocket routes', () => {
  test('an upgrade to the info route or an app GET route gets 400 and its socket is closed; HTTP requests there still work', async (t) => {
    const logs = captureLogs()
    const app = await buildApp({ maxConnections: 1, origins: 'https://app.example' }, (app) => {
      echoRoute(app)
      app.get('/hello', async () => ({ hello: 'world' }))
    }, { logger: { level: 'info', stream: logs.stream } })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const holder = await openClient(`${url}/ws`, { headers: { origin: 'https://app.example' } })
    t.after(() => holder.socket.terminate())

    // A foreign Origin and a full server: neither matters, the route is not a WebSocket route.
    const upgrades = await Promise.all(
      ['/ws/info', '/hello', '/ws/info', '/hello'].map((path) => rawUpgrade(`${url}${path}`, { Origin: 'https://evil.example' }))
    )
    assert.deepEqual(upgrades.map((upgrade) => upgrade.status), [400, 400, 400, 400])
    await Promise.all(upgrades.map((upgrade) => socketClosed(upgrade.socket)))
    assert.ok(logs.lines.some((l) => l.msg === 'websocket upgrade refused: not a websocket route' && l.url === '/hello'))
    assert.equal((await rawUpgrade(`${url}/nowhere`)).status, 404, 'an unknown path is still a 404')

    assert.equal((await httpCall(`${httpUrl(app)}/hello`)).body, '{"hello":"world"}')
    assert.equal((await httpCall(`${httpUrl(app)}/ws/info`)).status, 200)
    holder.socket.send('still the only connection')
    assert.equal(await holder.next(), 'still the only connection')
    assert.equal(app.wsConnections.size, 1)
  })

  test('a GET route the app declared before registering the plugin gets 400 too', async (t) => {
    const app = Fastify({ logger: false })
    app.get('/early', async () => 'early')
    await app.register(fastifyReliableWs)
    echoRoute(app)
    t.after(() => cleanup(app))
    const url = await listen(app)
    const upgrade = await rawUpgrade(`${url}/early`)
    assert.equal(upgrade.status, 400)
    await socketClosed(upgrade.socket)
  })
})
