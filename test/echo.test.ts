import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, connect, echoRoute, listen, nextMessage } from './helpers/server.js'

test('a text message sent through fastify.injectWS comes back as the same text', async (t) => {
  const app = await buildApp({}, echoRoute)
  await app.ready()
  const socket = await app.injectWS('/ws')
  // injectWS streams never report a TCP close, so end the client before closing the app.
  t.after(async () => { socket.terminate(); await app.close() })
  const reply = nextMessage(socket)
  socket.send('hello')
  assert.deepEqual(await reply, { data: 'hello', isBinary: false })
})

test('a real ws client on 127.0.0.1 gets text back as text and binary back as binary', async (t) => {
  const app = await buildApp({}, echoRoute)
  t.after(() => app.close())
  const url = await listen(app)
  const socket = await connect(`${url}/ws`)
  t.after(() => socket.terminate())
  let reply = nextMessage(socket)
  socket.send('héllo')
  assert.deepEqual(await reply, { data: 'héllo', isBinary: false })
  reply = nextMessage(socket)
  socket.send(Buffer.from([0, 1, 2, 255]))
  assert.deepEqual(await reply, { data: Buffer.from([0, 1, 2, 255]), isBinary: true })
})

test('messages sent while an async handler is still starting are delivered in order', async (t) => {
  const app = await buildApp({}, (app) => {
    app.wsRoute('/slow', async (connection) => {
      await new Promise((resolve) => setTimeout(resolve, 100))
      const seen: string[] = []
      connection.on('message', (data) => {
        seen.push(String(data))
        if (seen.length === 3) void connection.send(seen.join(','))
      })
    })
  })
  t.after(() => app.close())
  const url = await listen(app)
  const socket = await connect(`${url}/slow`)
  t.after(() => socket.terminate())
  const reply = nextMessage(socket)
  socket.send('a'); socket.send('b'); socket.send('c')
  assert.deepEqual(await reply, { data: 'a,b,c', isBinary: false })
})
