import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ReliableConnection } from '../lib/index.js'
import { openRawSession } from './helpers/raw-session.js'
import { buildApp, listen, SINGLE_ADDRESS_LOAD } from './helpers/server.js'

// A reliable send() settles through a callback kept with its frame; the promise gets its `catch`
// only when it rejects (lib/reliable/session-sender.ts). These pin both halves of that.

test('sends nobody awaits that reject when the session ends raise no unhandled rejection; awaited ones reject with FRWS_ERR_SESSION_ENDED', async (t) => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.after(() => process.off('unhandledRejection', onUnhandled))
  let connection: ReliableConnection | undefined
  const app = await buildApp(SINGLE_ADDRESS_LOAD, (app) => {
    app.wsRoute('/r', { reliable: true }, (accepted) => { connection = accepted as ReliableConnection })
  })
  t.after(() => app.close())
  const url = await listen(app)
  const session = await openRawSession(`${url}/r`)
  t.after(() => session.socket.terminate())
  assert.ok(connection !== undefined)
  // The raw session never acknowledges: every send stays pending until the session ends.
  for (let i = 0; i < 20; i++) void connection.send(`unawaited ${i}`)
  const awaited = connection.send('awaited')
  await session.waitFrames(21)
  connection.close(1000, 'done')
  await assert.rejects(awaited, { code: 'FRWS_ERR_SESSION_ENDED' })
  await session.closed
  // Unhandled rejections are reported after the microtask queue drains: let a few turns pass.
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(unhandled, [])
})

test('an acknowledged send resolves, and so do the sends it covers', async (t) => {
  let connection: ReliableConnection | undefined
  const app = await buildApp(SINGLE_ADDRESS_LOAD, (app) => {
    app.wsRoute('/r', { reliable: true }, (accepted) => { connection = accepted as ReliableConnection })
  })
  t.after(() => app.close())
  const url = await listen(app)
  const session = await openRawSession(`${url}/r`)
  t.after(() => session.socket.terminate())
  assert.ok(connection !== undefined)
  const sends = [connection.send('one'), connection.send('two'), connection.send('three')]
  await session.waitFrames(3)
  session.socket.send('A3')
  assert.deepEqual(await Promise.all(sends), [undefined, undefined, undefined])
})
