import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { ClientErrorCode, ReliableClient } from '../lib/client/index.js'
import { SUBPROTOCOL } from '../lib/protocol/version.js'
import { Scene, RELIABLE_PATH, nextClientEvent } from './helpers/reliable-pair.js'
import { buildApp, cleanup, connect, listen } from './helpers/server.js'

/**
 * Opens like a browser does when the server selects no subprotocol (ws fails such a handshake
 * itself): it offers none, so `protocol` is `''` on open.
 */
class LenientWebSocket extends WebSocket {
  constructor (url: string) {
    super(url)
  }
}

async function appWithBothRoutes (): Promise<{ base: string, messages: string[], close: () => Promise<void> }> {
  const messages: string[] = []
  const app = await buildApp({}, (instance) => {
    instance.wsRoute('/plain', (connection) => { connection.on('message', (data) => { messages.push(String(data)) }) })
    instance.wsRoute(RELIABLE_PATH, { reliable: true }, () => {})
  })
  return { base: await listen(app), messages, close: () => cleanup(app) }
}

describe('the subprotocol a route selects', () => {
  test('a plain route never selects frws, a reliable route does', async (t) => {
    const { base, close } = await appWithBothRoutes()
    t.after(close)
    const plainOnly = await connect(`${base}/plain`)
    const reliable = new WebSocket(`${base}${RELIABLE_PATH}`, ['chat', SUBPROTOCOL])
    await new Promise((resolve, reject) => { reliable.once('open', resolve); reliable.once('error', reject) })
    t.after(() => { plainOnly.terminate(); reliable.terminate() })
    assert.equal(reliable.protocol, SUBPROTOCOL)
    assert.equal(plainOnly.protocol, '')
    const offered = new WebSocket(`${base}/plain`, [SUBPROTOCOL, 'chat'])
    await new Promise((resolve, reject) => { offered.once('open', resolve); offered.once('error', reject) })
    t.after(() => offered.terminate())
    assert.equal(offered.protocol, 'chat', 'the first name offered that is not ours')
  })
})

describe('the client pointed at a plain route', () => {
  for (const [title, WebSocketImpl] of [['ws (fails the handshake itself)', WebSocket], ['a browser-like WebSocket (opens without a subprotocol)', LenientWebSocket]] as const) {
    test(`with ${title}: ends with FRWS_ERR_CLIENT_NOT_RELIABLE_ROUTE, sends nothing and does not reconnect`, async (t) => {
      const { base, messages, close } = await appWithBothRoutes()
      t.after(close)
      const client = new ReliableClient(`${base}/plain`, { WebSocket: WebSocketImpl, baseDelay: 10, maxDelay: 10 })
      let reconnects = 0
      client.on('reconnecting', () => { reconnects++ })
      const pending = client.send('lost?')
      const [end] = await nextClientEvent(client, 'end')
      assert.equal(end.error?.code, ClientErrorCode.NOT_RELIABLE_ROUTE)
      assert.match(end.error.message, /Not a reliable route/)
      assert.match(end.error.message, /reliable: true/)
      await assert.rejects(pending, { code: ClientErrorCode.NOT_RELIABLE_ROUTE })
      assert.equal(client.state, 'closed')
      assert.equal(reconnects, 0)
      assert.deepEqual(messages, [], 'no hello reached the plain route')
    })
  }
})

describe('a response acknowledges its request', () => {
  test('bufferedCount is 0 as soon as request() resolves, before any ack frame', async (t) => {
    const scene = new Scene()
    t.after(() => scene.close())
    // A long ackInterval and ackEvery: an ack frame cannot be what empties the buffer.
    const server = await scene.server({
      reliable: { ackInterval: 60_000, ackEvery: 1000 },
      handler: (connection) => { connection.on('request', (data, _isBinary, respond) => respond(`re: ${String(data)}`)) }
    })
    const { client } = scene.client(server.url)
    await nextClientEvent(client, 'open')
    assert.equal(await client.request('one'), 're: one')
    assert.equal(client.bufferedCount, 0)
  })

  test('a server restart right after request() resolved reports continuityLost with nothing lost', async (t) => {
    const scene = new Scene()
    t.after(() => scene.close())
    const handler = (connection: { on: (event: 'request', listener: (data: unknown, isBinary: boolean, respond: (answer: string) => void) => void) => void }): void => {
      connection.on('request', (_data, _isBinary, respond) => respond('ok'))
    }
    const reliable = { ackInterval: 60_000, ackEvery: 1000 }
    const first = await scene.server({ reliable, handler })
    const { client } = scene.client(first.url)
    await nextClientEvent(client, 'open')
    assert.equal(await client.request('before the restart'), 'ok')
    await scene.closeApp(first.app)
    await scene.server({ reliable, handler, port: first.port })
    const [lost] = await nextClientEvent(client, 'continuityLost', 10_000)
    assert.equal(lost.lost, 0)
  })
})
