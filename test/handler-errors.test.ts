import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildApp, captureLogs, cleanup, echoRoute, listen, LogLevel, openClient, waitFor, withExpiry } from './helpers/server.js'
import type { LogLine } from './helpers/server.js'

/** An app logging at debug into `lines`, with failing routes beside an echo route at /ws. */
async function start (t: { after: (fn: () => unknown) => void }): Promise<{ app: FastifyInstance, url: string, lines: LogLine[] }> {
  const { stream, lines } = captureLogs()
  const app = await buildApp({}, (app) => {
    echoRoute(app)
    app.wsRoute('/sync-throw', () => { throw new Error('sync handler boom') })
    app.wsRoute('/reject', async () => {
      await Promise.resolve()
      throw new Error('async handler boom')
    })
    app.wsRoute('/listener-throw', (connection) => {
      connection.on('message', () => { throw new Error('listener boom') })
    })
    app.wsRoute('/listener-reject', (connection) => {
      connection.on('message', async () => {
        await Promise.resolve()
        throw new Error('async listener boom')
      })
    })
  }, { logger: { level: 'debug', stream } })
  t.after(() => cleanup(app))
  return { app, url: await listen(app), lines }
}

/** The reqId Fastify logged for the incoming request to `path`. */
function requestId (lines: LogLine[], path: string): unknown {
  const incoming = lines.find((line) => line.msg === 'incoming request' && (line.req as { url?: string } | undefined)?.url === path)
  assert.ok(incoming !== undefined, `no incoming request line for ${path}`)
  return incoming.reqId
}

const failures: Array<[string, string, string, boolean]> = [
  ['a handler that throws synchronously', '/sync-throw', 'sync handler boom', false],
  ['a handler that rejects', '/reject', 'async handler boom', false],
  ["a 'message' listener that throws", '/listener-throw', 'listener boom', true],
  ["an async 'message' listener that rejects", '/listener-reject', 'async listener boom', true]
]

describe('errors in handlers and listeners', () => {
  for (const [name, path, message, needsMessage] of failures) {
    test(`${name} closes that connection with 1011, is logged through the request logger, and others keep echoing`, async (t) => {
      const { app, url, lines } = await start(t)
      const bystander = await openClient(`${url}/ws`)
      const failing = await openClient(`${url}${path}`)
      t.after(() => { bystander.socket.terminate(); failing.socket.terminate() })
      if (needsMessage) failing.socket.send('trigger')

      assert.equal((await withExpiry(failing.closed, 2000, 'the 1011 close')).code, 1011)
      await waitFor(() => lines.some((line) => line.msg === 'websocket handler failed'), 'the error log line')
      const logged = lines.filter((line) => line.msg === 'websocket handler failed')
      assert.equal(logged.length, 1)
      assert.equal(logged[0].level, LogLevel.error)
      assert.equal((logged[0].err as { message?: string }).message, message)
      assert.equal(typeof logged[0].connectionId, 'string')
      assert.equal(logged[0].reqId, requestId(lines, path), 'logged with the upgrade request logger')

      bystander.socket.send('still alive')
      assert.equal(await bystander.next(), 'still alive')
      await waitFor(() => app.wsConnections.size === 1, 'the failed connection to leave')
    })
  }

  test('a listener that throws on one message does not stop the process from serving new connections', async (t) => {
    const { url } = await start(t)
    for (let i = 0; i < 3; i++) {
      const failing = await openClient(`${url}/listener-throw`)
      failing.socket.send('trigger')
      assert.equal((await withExpiry(failing.closed, 2000, 'the 1011 close')).code, 1011)
    }
    const client = await openClient(`${url}/ws`)
    t.after(() => client.socket.terminate())
    client.socket.send('fine')
    assert.equal(await client.next(), 'fine')
  })
})

describe('close logging', () => {
  test('a client that drops the TCP connection (1006) is logged at warn', async (t) => {
    const { app, url, lines } = await start(t)
    const client = await openClient(`${url}/ws`)
    client.socket.terminate()
    await waitFor(() => app.wsConnections.size === 0, 'the connection to leave')
    const line = lines.find((l) => l.code === 1006)
    assert.ok(line !== undefined, 'a close line with code 1006')
    assert.equal(line.level, LogLevel.warn)
    assert.equal(line.cause, 'client')
    assert.equal(typeof line.reqId, 'string')
  })

  test('a normal close (1000) and a client going away (1001) are logged at debug', async (t) => {
    const { app, url, lines } = await start(t)
    const first = await openClient(`${url}/ws`)
    const second = await openClient(`${url}/ws`)
    first.socket.close(1000, 'done')
    second.socket.close(1001)
    await waitFor(() => app.wsConnections.size === 0, 'both connections to leave')
    for (const code of [1000, 1001]) {
      const line = lines.find((l) => l.code === code)
      assert.ok(line !== undefined, `a close line with code ${code}`)
      assert.equal(line.level, LogLevel.debug, `code ${code}`)
      assert.equal(line.msg, 'websocket closed')
    }
    assert.equal(lines.filter((l) => l.level >= LogLevel.warn).length, 0, 'nothing at warn or above')
  })

  test('a connection closed with 1011 after a handler error is logged at warn as well as the error', async (t) => {
    const { app, url, lines } = await start(t)
    const failing = await openClient(`${url}/sync-throw`)
    await withExpiry(failing.closed, 2000, 'the close')
    await waitFor(() => app.wsConnections.size === 0, 'the connection to leave')
    const line = lines.find((l) => l.code === 1011)
    assert.ok(line !== undefined)
    assert.equal(line.level, LogLevel.warn)
    assert.equal(line.cause, 'error')
  })
})
