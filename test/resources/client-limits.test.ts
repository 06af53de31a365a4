// The shipped client against the server's limits: it backs off after 4429 and resumes without
// losing or repeating a message.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startReliable } from '../helpers/protocol-peer.js'
import { startClient } from '../helpers/client-peer.js'
import { waitFor } from '../helpers/server.js'

test('a client over the rate limit is closed with 4429, backs off, resumes, and every message arrives once, in order', async (t) => {
  const server = await startReliable({ reliable: true, rateLimit: { messagesPerSecond: 40, burstSeconds: 0.5 } })
  t.after(() => server.stop())
  const client = startClient(server.url, { baseDelay: 10, maxDelay: 300 })
  t.after(() => { void client.close() })
  const closes: number[] = []
  const delays: number[] = []
  const resumes: boolean[] = []
  client.on('close', (event) => closes.push(event.code))
  client.on('reconnecting', (event) => delays.push(event.delay))
  client.on('resumed', (event) => resumes.push(event.continuity))
  const total = 60
  const sends = Array.from({ length: total }, (_, i) => client.send(`m${i}`))
  await Promise.all(sends)
  await waitFor(() => server.messages.length === total, 'every message at the server', 20_000)
  assert.deepEqual(server.messages.map((m) => m.data), Array.from({ length: total }, (_, i) => `m${i}`))
  assert.ok(closes.length >= 1 && closes.every((code) => code === 4429), `closed with 4429 only (${closes.join(', ')})`)
  assert.ok(delays.every((delay) => delay === 300), 'each reconnect waited the 1013/4429 minimum, capped by maxDelay')
  assert.ok(resumes.length >= 1 && resumes.every((continuity) => continuity), 'every reconnect resumed the session')
  assert.equal(server.connections.length, 1, 'one session throughout')
})
