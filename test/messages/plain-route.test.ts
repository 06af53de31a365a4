import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import { buildApp, cleanup, listen, openClient, waitFor, withExpiry } from '../helpers/server.js'
import { valibotChat, zodChat } from './schemas.js'

/** A typed echo route: answers each `say` with a `said` of the same text; records what it received. */
async function typedEchoApp (schemas: typeof zodChat | typeof valibotChat) {
  const received: unknown[] = []
  const app = await buildApp({}, (app) => {
    app.wsRoute('/typed', { messages: schemas }, (connection) => {
      connection.on('message', (message) => {
        received.push(message)
        void connection.send({ type: 'said', text: message.text, at: received.length })
      })
    })
  })
  const url = await listen(app)
  return { app, url: `${url}/typed`, received }
}

for (const [library, schemas] of [['Zod', zodChat], ['Valibot', valibotChat]] as const) {
  describe(`typed messages on a plain route (${library})`, () => {
    test('a valid message reaches the handler as the parsed value and its typed answer goes out as JSON', async (t) => {
      const { app, url, received } = await typedEchoApp(schemas)
      t.after(() => cleanup(app))
      const client = await openClient(url)
      client.socket.send(JSON.stringify({ type: 'say', text: 'hello', tags: ['x'] }))
      assert.deepEqual(JSON.parse(String(await client.next())), { type: 'said', text: 'hello', at: 1 })
      assert.deepEqual(received, [{ type: 'say', text: 'hello', tags: ['x'] }])
    })

    test('an invalid message closes that connection with 1007 naming the first failing path; others carry on', async (t) => {
      const { app, url, received } = await typedEchoApp(schemas)
      t.after(() => cleanup(app))
      const offender = await openClient(url)
      const bystander = await openClient(url)
      offender.socket.send(JSON.stringify({ type: 'say', text: 'ok', tags: ['a', 7] }))
      offender.socket.send(JSON.stringify({ type: 'say', text: 'after the offence' }))
      const info = await withExpiry(offender.closed, 2000, 'the close of the offender')
      assert.equal(info.code, 1007)
      assert.match(info.reason, /^invalid message at tags\[1\]: /)
      assert.deepEqual(received, [], 'neither the invalid message nor the one after it was delivered')
      bystander.socket.send(JSON.stringify({ type: 'say', text: 'still here' }))
      assert.equal(JSON.parse(String(await bystander.next())).text, 'still here')
    })
  })
}

describe('typed messages on a plain route: decoding and sending', () => {
  test('a payload that is not JSON, and a binary frame, close with 1007 at (decode)', async (t) => {
    const { app, url } = await typedEchoApp(zodChat)
    t.after(() => cleanup(app))
    const notJson = await openClient(url)
    notJson.socket.send('{"type":')
    const first = await withExpiry(notJson.closed, 2000, 'the close')
    assert.equal(first.code, 1007)
    assert.match(first.reason, /^invalid message at \(decode\): /)
    const binary = await openClient(url)
    binary.socket.send(Buffer.from('{"type":"say","text":"x"}'))
    const second = await withExpiry(binary.closed, 2000, 'the close')
    assert.deepEqual(second, { code: 1007, reason: 'invalid message at (decode): expected a text frame' })
  })

  test('an invalid outgoing value rejects with FRWS_ERR_MESSAGE_INVALID and is never sent', async (t) => {
    let rejection: Promise<void> | undefined
    const app = await buildApp({}, (app) => {
      app.wsRoute('/typed', { messages: zodChat }, (connection) => {
        connection.on('message', () => {
          // @ts-expect-error: `at` must be a number; the runtime check is what this test is about
          rejection = connection.send({ type: 'said', text: 'bad', at: 'noon' })
          void connection.send({ type: 'said', text: 'good', at: 2 })
        })
      })
    })
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/typed`)
    client.socket.send(JSON.stringify({ type: 'say', text: 'go' }))
    assert.equal(JSON.parse(String(await client.next())).text, 'good', 'the first frame the client sees is the valid one')
    await assert.rejects(rejection as Promise<void>, (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FRWS_ERR_MESSAGE_INVALID')
      assert.match(error.message, /outgoing message at at: /)
      return true
    })
    assert.equal(client.messages.length, 1)
  })

  test('a schema that validates asynchronously is refused: outgoing rejects, incoming closes with 1011', async (t) => {
    const slow = z.object({ n: z.number() }).refine(async () => true)
    let rejection: Promise<void> | undefined
    const app = await buildApp({}, (app) => {
      app.wsRoute('/slow-in', { messages: { fromClient: slow } }, (connection) => {
        connection.on('message', () => {})
      })
      app.wsRoute('/slow-out', { messages: { fromServer: slow } }, (connection) => {
        rejection = connection.send({ n: 1 })
      })
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const outgoing = await openClient(`${url}/slow-out`)
    await waitFor(() => rejection !== undefined, 'the handler')
    await assert.rejects(rejection as Promise<void>, /validated asynchronously/)
    const incoming = await openClient(`${url}/slow-in`)
    incoming.socket.send('{"n":1}')
    assert.equal((await withExpiry(incoming.closed, 2000, 'the close')).code, 1011)
    assert.equal(outgoing.messages.length, 0)
  })

  test('typed broadcast validates and encodes once; an invalid value throws and reaches nobody', async (t) => {
    const app = await buildApp({}, (app) => {
      app.wsRoute('/typed', { messages: zodChat }, (connection) => { connection.join('chat') })
    })
    t.after(() => cleanup(app))
    const url = `${await listen(app)}/typed`
    const [a, b] = [await openClient(url), await openClient(url)]
    await waitFor(() => app.wsConnections.room('chat').size === 2, 'both in the room')
    assert.throws(
      // @ts-expect-error: `text` must be a string
      () => app.wsConnections.broadcast({ type: 'said', text: 1, at: 1 }, { room: 'chat', messages: zodChat }),
      { code: 'FRWS_ERR_MESSAGE_INVALID' }
    )
    assert.equal(app.wsConnections.broadcast({ type: 'said', text: 'all', at: 1 }, { room: 'chat', messages: zodChat }), 2)
    for (const client of [a, b]) assert.deepEqual(JSON.parse(String(await client.next())), { type: 'said', text: 'all', at: 1 })
  })

  test('a messages entry that is not a Standard Schema fails at wsRoute() naming it', async (t) => {
    const app = await buildApp()
    t.after(() => app.close())
    assert.throws(
      () => app.wsRoute('/bad', { messages: { fromClient: { parse: () => true } as never } }, () => {}),
      (error: Error & { code?: string }) => error.code === 'FRWS_ERR_OPTION_INVALID' && /"messages\.fromClient"/.test(error.message)
    )
    assert.throws(
      () => app.wsRoute('/bad2', { messages: { codec: { encode: JSON.stringify } as never } }, () => {}),
      /"messages\.codec"/
    )
    assert.throws(
      () => app.wsRoute('/bad3', { messages: { requests: { fromClient: { respone: zodChat.fromClient } } as never } }, () => {}),
      /"messages\.requests\.fromClient\.respone"/
    )
    assert.throws(
      () => app.wsRoute('/bad4', { messages: { requests: { fromServer: { response: 'json' } } as never } }, () => {}),
      /"messages\.requests\.fromServer\.response": expected a Standard Schema/
    )
  })
})
