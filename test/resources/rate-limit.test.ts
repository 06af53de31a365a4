import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyReliableWsOptions } from '../../lib/index.js'
import { resumeOf, startReliable } from '../helpers/protocol-peer.js'
import { buildApp, captureLogs, cleanup, echoRoute, listen, openClient, waitFor, withExpiry } from '../helpers/server.js'
import type { LogLine } from '../helpers/server.js'

async function echoServer (t: { after: (fn: () => Promise<void>) => void }, options: FastifyReliableWsOptions) {
  const { stream, lines } = captureLogs()
  const app = await buildApp(options, (app) => {
    echoRoute(app)
    app.wsRoute('/unlimited', { rateLimit: false }, (connection) => {
      connection.on('message', (data) => { void connection.send(data) })
    })
  }, { logger: { level: 'warn', stream } })
  t.after(() => cleanup(app))
  return { app, url: await listen(app), lines }
}

const limitLines = (lines: LogLine[]): LogLine[] => lines.filter((line) => line.msg === 'websocket rate limit exceeded')

describe('rate limit', () => {
  test('a burst within the bucket is echoed in full and the connection stays open, with no log line', async (t) => {
    const { url, lines } = await echoServer(t, { rateLimit: { messagesPerSecond: 20, burstSeconds: 1 } })
    const client = await openClient(`${url}/ws`)
    for (let i = 0; i < 20; i++) client.socket.send(`m${i}`)
    for (let i = 0; i < 20; i++) assert.equal(await client.next(), `m${i}`)
    assert.equal(client.socket.readyState, 1, 'still open after the 20th echo')
    assert.deepEqual(limitLines(lines), [])
  })

  test('more frames than the bucket holds close with 4429 and a warn log line; other connections keep echoing', async (t) => {
    const { app, url, lines } = await echoServer(t, { rateLimit: { messagesPerSecond: 20, burstSeconds: 1 } })
    const flooder = await openClient(`${url}/ws`)
    const bystander = await openClient(`${url}/ws`)
    for (let i = 0; i < 100; i++) flooder.socket.send(`m${i}`)
    const close = await withExpiry(flooder.closed, 3000, 'the 4429 close')
    assert.equal(close.code, 4429)
    assert.equal(close.reason, 'rate limit exceeded')
    assert.ok(flooder.messages.length <= 21, `at most the burst was echoed (${flooder.messages.length})`)
    const logged = limitLines(lines)
    assert.equal(logged.length, 1, 'one line, not one per dropped frame')
    assert.equal(logged[0].exceeded, 'messages')
    assert.equal(logged[0].messagesPerSecond, 20)
    bystander.socket.send('still here')
    assert.equal(await bystander.next(), 'still here')
    await waitFor(() => app.wsConnections.size === 1, 'the flooder to leave the registry')
  })

  test('the byte limit closes with 4429 and names the bytes', async (t) => {
    const { url, lines } = await echoServer(t, { rateLimit: { bytesPerSecond: 1000, burstSeconds: 1 } })
    const client = await openClient(`${url}/ws`)
    client.socket.send('x'.repeat(600))
    assert.equal((await client.next()).length, 600)
    client.socket.send('x'.repeat(600))
    client.socket.send('x'.repeat(600))
    assert.equal((await withExpiry(client.closed, 3000, 'the 4429 close')).code, 4429)
    assert.equal(limitLines(lines)[0].exceeded, 'bytes')
  })

  test('RFC 6455 pings count: a ping flood closes with 4429', async (t) => {
    const { url } = await echoServer(t, { rateLimit: { messagesPerSecond: 20, burstSeconds: 1 } })
    const client = await openClient(`${url}/ws`)
    for (let i = 0; i < 100; i++) client.socket.ping()
    assert.equal((await withExpiry(client.closed, 3000, 'the 4429 close')).code, 4429)
  })

  test('a route with rateLimit: false is not limited under a strict plugin-wide limit', async (t) => {
    const { url, lines } = await echoServer(t, { rateLimit: { messagesPerSecond: 5, burstSeconds: 1 } })
    const client = await openClient(`${url}/unlimited`)
    for (let i = 0; i < 200; i++) client.socket.send(`m${i}`)
    for (let i = 0; i < 200; i++) assert.equal(await client.next(), `m${i}`)
    assert.equal(client.socket.readyState, 1)
    assert.deepEqual(limitLines(lines), [])
  })

  test('the default lets a steady echo of 5,000 messages through', async (t) => {
    const { url } = await echoServer(t, {})
    const client = await openClient(`${url}/ws`)
    for (let i = 0; i < 5000; i++) client.socket.send(`m${i}`)
    for (let i = 0; i < 5000; i++) assert.equal(await client.next(), `m${i}`)
    assert.equal(client.socket.readyState, 1)
  })

  test('on a reliable route the session survives a 4429: suspended, then resumed', async (t) => {
    const server = await startReliable({ reliable: true, rateLimit: { messagesPerSecond: 10, burstSeconds: 1 } })
    t.after(() => server.stop())
    const peer = await server.peer()
    const welcome = await peer.handshake()
    for (let seq = 1; seq <= 50; seq++) peer.sendData(seq, `m${seq}`)
    assert.equal((await peer.closed(3000)).code, 4429)
    await waitFor(() => server.events.includes('suspend:4429') || server.events.includes('suspend:1006'), 'the suspend event')
    assert.ok(!server.events.some((event) => event.startsWith('close:')), 'the session did not end')
    const delivered = server.messages.length
    assert.ok(delivered > 0 && delivered < 50, `the burst was delivered, the rest was not (${delivered})`)
    // After the bucket refills, the client resumes and replays what the server did not deliver.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const again = await server.peer()
    const resumed = await again.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, true)
    assert.equal(resumed.delivered, delivered)
  })
})

describe('rate limit options', () => {
  const invalid: Array<[string, unknown, string]> = [
    ['messagesPerSecond 0', { messagesPerSecond: 0 }, 'rateLimit.messagesPerSecond'],
    ['bytesPerSecond 1.5', { bytesPerSecond: 1.5 }, 'rateLimit.bytesPerSecond'],
    ['burstSeconds 0', { burstSeconds: 0 }, 'rateLimit.burstSeconds'],
    ['an unknown key', { perSecond: 10 }, 'rateLimit.perSecond'],
    ['true', true, 'rateLimit']
  ]
  for (const [name, value, option] of invalid) {
    test(`rateLimit with ${name} fails at register naming ${option}`, async () => {
      await assert.rejects(buildApp({ rateLimit: value } as FastifyReliableWsOptions), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'FRWS_ERR_OPTION_INVALID')
        assert.match(error.message, new RegExp(`"${option.replace('.', '\\.')}"`))
        return true
      })
    })
  }

  test('a route override with a bad value fails at wsRoute()', async (t) => {
    const app = await buildApp({})
    t.after(() => app.close())
    assert.throws(() => app.wsRoute('/x', { rateLimit: { messagesPerSecond: -1 } }, () => {}), /rateLimit\.messagesPerSecond/)
  })
})
