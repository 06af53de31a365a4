import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import { ReliableClient } from '../../lib/client/index.js'
import type { InvalidMessage, ReliableConnection } from '../../lib/index.js'
import type { MessageSchemas, ServerMessageTypes } from '../../lib/index.js'
import { LogLevel, buildApp, captureLogs, cleanup, listen, waitFor, withExpiry } from '../helpers/server.js'
import { valibotChat, zodChat } from './schemas.js'

type Chat = typeof zodChat | typeof valibotChat

interface TypedApp {
  app: FastifyInstance
  url: string
  /** Data messages the handler received, in order. */
  received: unknown[]
  /** What the `invalid` event reported. */
  invalid: InvalidMessage[]
  connection (): ReliableConnection<object, ServerMessageTypes<Chat>>
}

/** A reliable route with the chat schemas: records messages and invalid reports, sums requests. */
async function typedReliableApp (schemas: Chat): Promise<TypedApp> {
  const received: unknown[] = []
  const invalid: InvalidMessage[] = []
  let current: ReliableConnection<object, ServerMessageTypes<Chat>> | undefined
  const app = await buildApp({}, (app) => {
    app.wsRoute('/typed', { reliable: true, messages: schemas }, (connection) => {
      current = connection
      connection.on('message', (message) => { received.push(message) })
      connection.on('invalid', (info) => { invalid.push(info) })
      connection.on('request', (request, _isBinary, respond) => {
        respond({ total: request.sum.reduce((a, b) => a + b, 0) })
      })
    })
  })
  const url = `${await listen(app)}/typed`
  return {
    app,
    url,
    received,
    invalid,
    connection () {
      if (current === undefined) throw new Error('no connection yet')
      return current
    }
  }
}

/** A client without schemas: it sends whatever it is given, as a misbehaving peer would. */
function rawClient (url: string, onRequest?: (data: string | Uint8Array) => string): ReliableClient {
  return new ReliableClient(url, { WebSocket, baseDelay: 20, maxDelay: 200, onRequest })
}

function opened<M extends MessageSchemas | undefined> (client: ReliableClient<M>): Promise<void> {
  return withExpiry(new Promise<void>((resolve) => { client.once('open', () => resolve()) }), 5000, 'the session')
}

for (const [library, schemas] of [['Zod', zodChat], ['Valibot', valibotChat]] as const) {
  describe(`typed messages on a reliable route (${library})`, () => {
    test('messages and requests travel typed both ways between ReliableClient and the handler', async (t) => {
      const server = await typedReliableApp(schemas)
      t.after(() => cleanup(server.app))
      const client = new ReliableClient(server.url, {
        WebSocket,
        messages: schemas,
        onRequest: (request) => ({ answer: request.ask.toUpperCase() })
      })
      t.after(() => client.close())
      const messages: unknown[] = []
      client.on('message', (message) => { messages.push(message) })
      await opened(client)

      await client.send({ type: 'say', text: 'hi' })
      assert.deepEqual(server.received, [{ type: 'say', text: 'hi' }], 'acknowledged means delivered')
      assert.deepEqual(await client.request({ sum: [1, 2, 3] }), { total: 6 })
      assert.deepEqual(await server.connection().request({ ask: 'why' }), { answer: 'WHY' })
      await server.connection().send({ type: 'said', text: 'welcome', at: 1 })
      assert.deepEqual(messages, [{ type: 'said', text: 'welcome', at: 1 }])
    })

    test('an invalid message from the client is acknowledged, reported by the invalid event and never delivered', async (t) => {
      const server = await typedReliableApp(schemas)
      t.after(() => cleanup(server.app))
      const client = rawClient(server.url)
      t.after(() => client.close())
      await opened(client)
      // The send resolves: the server acknowledged it, so it is not replayed after a reconnect.
      await client.send(JSON.stringify({ type: 'say', text: '' }))
      await client.send(JSON.stringify({ type: 'say', text: 'next' }))
      assert.deepEqual(server.received, [{ type: 'say', text: 'next' }])
      assert.equal(server.invalid.length, 1)
      assert.equal(server.invalid[0].kind, 'message')
      assert.equal(server.invalid[0].path, 'text')
      assert.equal(client.bufferedCount, 0)
      assert.equal(client.state, 'open', 'the session goes on')
    })

    test('an invalid request gets an error response naming the first failing path', async (t) => {
      const server = await typedReliableApp(schemas)
      t.after(() => cleanup(server.app))
      const client = rawClient(server.url)
      t.after(() => client.close())
      await opened(client)
      await assert.rejects(client.request(JSON.stringify({ sum: [1, 'two'] })), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'FRWS_ERR_CLIENT_REQUEST_FAILED')
        assert.match(error.message, /^invalid request at sum\[1\]: /)
        return true
      })
      assert.deepEqual(server.invalid.map((info) => [info.kind, info.path]), [['request', 'sum[1]']])
      assert.equal(await client.request(JSON.stringify({ sum: [2] })), '{"total":2}', 'the session still answers')
    })

    test('invalid outgoing values are rejected locally on both sides with the coded error and never sent', async (t) => {
      const server = await typedReliableApp(schemas)
      t.after(() => cleanup(server.app))
      const client = new ReliableClient(server.url, { WebSocket, messages: schemas })
      t.after(() => client.close())
      const messages: unknown[] = []
      client.on('message', (message) => { messages.push(message) })
      await opened(client)

      // @ts-expect-error: `text` must be a string
      await assert.rejects(client.send({ type: 'say', text: 5 }), { code: 'FRWS_ERR_CLIENT_INVALID_MESSAGE' })
      // @ts-expect-error: `sum` must be an array of numbers
      await assert.rejects(client.request({ sum: 'all' }), { code: 'FRWS_ERR_CLIENT_INVALID_MESSAGE', message: /at sum: / })
      // @ts-expect-error: `at` must be a number
      await assert.rejects(server.connection().send({ type: 'said', text: 'x', at: 'now' }), { code: 'FRWS_ERR_MESSAGE_INVALID' })
      // @ts-expect-error: `ask` must be a string
      await assert.rejects(server.connection().request({ ask: 1 }), { code: 'FRWS_ERR_MESSAGE_INVALID' })

      await client.send({ type: 'say', text: 'first valid' })
      await server.connection().send({ type: 'said', text: 'first valid', at: 1 })
      assert.deepEqual(server.received, [{ type: 'say', text: 'first valid' }], 'nothing invalid reached the server')
      assert.deepEqual(messages, [{ type: 'said', text: 'first valid', at: 1 }], 'nothing invalid reached the client')
      assert.equal(server.connection().delivered, 1)
    })
  })
}

describe('typed messages on a reliable route: responses and the client side', () => {
  test('an invalid message is not replayed after a reconnect: the resumed session reports it once', async (t) => {
    const server = await typedReliableApp(zodChat)
    t.after(() => cleanup(server.app))
    const client = rawClient(server.url)
    t.after(() => client.close())
    await opened(client)
    await client.send('{"type":"shout"}')
    const resumed = withExpiry(new Promise((resolve) => { client.once('resumed', resolve) }), 5000, 'the resume')
    server.connection().socket.terminate()
    assert.deepEqual(await resumed, { continuity: true, sessionId: client.sessionId })
    await client.send('{"type":"say","text":"after the resume"}')
    assert.deepEqual(server.received, [{ type: 'say', text: 'after the resume' }])
    assert.deepEqual(server.invalid.map((info) => info.path), ['type'])
  })

  test('a respond() value that fails its schema sends the error response "internal error" and logs the coded error', async (t) => {
    const logs = captureLogs()
    const app = await buildApp({}, (app) => {
      app.wsRoute('/typed', { reliable: true, messages: zodChat }, (connection) => {
        // @ts-expect-error: `total` must be a number
        connection.on('request', (_request, _isBinary, respond) => { respond({ total: 'many' }) })
      })
    }, { logger: { level: 'info', stream: logs.stream } })
    t.after(() => cleanup(app))
    const client = new ReliableClient(`${await listen(app)}/typed`, { WebSocket, messages: zodChat })
    t.after(() => client.close())
    await opened(client)
    await assert.rejects(client.request({ sum: [1] }), { code: 'FRWS_ERR_CLIENT_REQUEST_FAILED', message: 'internal error' })
    const line = logs.lines.find((candidate) => candidate.level === LogLevel.error)
    assert.equal((line?.err as { code?: string } | undefined)?.code, 'FRWS_ERR_MESSAGE_INVALID')
    assert.match(String(line?.msg), /response failed its schema/)
  })

  test('an onRequest answer that fails its schema sends "invalid response" and emits error with FRWS_ERR_CLIENT_INVALID_MESSAGE', async (t) => {
    const server = await typedReliableApp(zodChat)
    t.after(() => cleanup(server.app))
    // @ts-expect-error: `answer` must be a string
    const client = new ReliableClient(server.url, { WebSocket, messages: zodChat, onRequest: () => ({ answer: 7 }) })
    t.after(() => client.close())
    const errors: Array<{ code: string }> = []
    client.on('error', (error) => { errors.push(error) })
    await opened(client)
    await assert.rejects(server.connection().request({ ask: 'x' }), { code: 'FRWS_ERR_REQUEST_FAILED', message: /invalid response/ })
    assert.deepEqual(errors.map((error) => error.code), ['FRWS_ERR_CLIENT_INVALID_MESSAGE'])
  })

  test('a client response that fails its schema rejects the server request() with FRWS_ERR_MESSAGE_INVALID', async (t) => {
    const server = await typedReliableApp(zodChat)
    t.after(() => cleanup(server.app))
    const client = rawClient(server.url, () => JSON.stringify({ answer: 42 }))
    t.after(() => client.close())
    await opened(client)
    await waitFor(() => server.app.wsConnections.size === 1, 'the handler')
    await assert.rejects(server.connection().request({ ask: 'x' }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FRWS_ERR_MESSAGE_INVALID')
      assert.match(error.message, /incoming message at answer: /)
      return true
    })
    assert.deepEqual(server.invalid.map((info) => [info.kind, info.path]), [['response', 'answer']])
  })

  test('the typed client reports an invalid message from the server by its invalid event and acknowledges it', async (t) => {
    let send: ((data: string) => Promise<void>) | undefined
    let request: ((data: string) => Promise<unknown>) | undefined
    const app = await buildApp({}, (app) => {
      app.wsRoute('/untyped', { reliable: true }, (connection) => {
        send = (data) => connection.send(data)
        request = (data) => connection.request(data)
      })
    })
    t.after(() => cleanup(app))
    const client = new ReliableClient(`${await listen(app)}/untyped`, {
      WebSocket,
      messages: zodChat,
      onRequest: () => ({ answer: 'fine' })
    })
    t.after(() => client.close())
    const messages: unknown[] = []
    const invalid: InvalidMessage[] = []
    client.on('message', (message) => { messages.push(message) })
    client.on('invalid', (info) => { invalid.push(info) })
    await opened(client)
    await waitFor(() => send !== undefined, 'the handler')

    await (send as (data: string) => Promise<void>)('{"type":"said","text":"x"}')
    await (send as (data: string) => Promise<void>)('{"type":"said","text":"y","at":2}')
    assert.deepEqual(messages, [{ type: 'said', text: 'y', at: 2 }])
    await assert.rejects((request as (data: string) => Promise<unknown>)('{"ask":[]}'), /invalid request at ask: /)
    assert.equal(await (request as (data: string) => Promise<unknown>)('{"ask":"ok"}'), '{"answer":"fine"}')
    assert.deepEqual(invalid.map((info) => [info.kind, info.path]), [['message', 'at'], ['request', 'ask']])
  })

  test('a fromServer schema that throws makes the message invalid on the client: reported, acknowledged, and the client carries on', async (t) => {
    let send: ((data: string) => Promise<void>) | undefined
    const app = await buildApp({}, (app) => {
      app.wsRoute('/untyped', { reliable: true }, (connection) => {
        send = (data) => connection.send(data)
      })
    })
    t.after(() => cleanup(app))
    // A hand-written Standard Schema whose validate throws on anything but an object with `ok`.
    const throwing = {
      '~standard': {
        version: 1 as const,
        vendor: 'test',
        validate: (value: unknown) => {
          if (typeof value !== 'object' || value === null || !('ok' in value)) throw new Error('the schema blew up')
          return { value }
        }
      }
    }
    const client = new ReliableClient(`${await listen(app)}/untyped`, { WebSocket, messages: { fromServer: throwing } })
    t.after(() => client.close())
    const messages: unknown[] = []
    const invalid: InvalidMessage[] = []
    client.on('message', (message) => { messages.push(message) })
    client.on('invalid', (info) => { invalid.push(info) })
    await opened(client)
    await waitFor(() => send !== undefined, 'the handler')
    const deliver = send as (data: string) => Promise<void>
    // Both sends resolve: the client acknowledged the message its schema threw on.
    await deliver('{"nope":1}')
    await deliver('{"ok":2}')
    assert.deepEqual(messages, [{ ok: 2 }])
    assert.deepEqual(invalid.map((info) => [info.kind, info.path, info.message]), [['message', '(schema)', 'the schema blew up']])
  })

  test('a client messages entry that is not a Standard Schema throws FRWS_ERR_CLIENT_INVALID_OPTION naming it', () => {
    assert.throws(
      () => new ReliableClient('ws://127.0.0.1:1/x', { WebSocket, messages: { fromServer: {} as never } }),
      (error: Error & { code?: string }) => error.code === 'FRWS_ERR_CLIENT_INVALID_OPTION' && /"messages\.fromServer"/.test(error.message)
    )
  })
})
