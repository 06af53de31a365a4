import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { SUBPROTOCOL } from '../../lib/protocol/version.js'
import { SPLIT_WRITE_MIN_LENGTH } from '../../lib/reliable/data-frame-writer.js'
import { buildApp, cleanup, listen, withExpiry } from '../helpers/server.js'
import { helloFrame } from '../helpers/protocol-peer.js'

/** Text payloads around every length boundary of a frame head (126, 65536) and of the split write, ASCII and not. */
function payloads (): string[] {
  const lengths = [0, 1, 120, 125, SPLIT_WRITE_MIN_LENGTH - 1, SPLIT_WRITE_MIN_LENGTH, 4096, 65_520, 65_536, 70_000]
  const ascii = lengths.map((length) => 'x'.repeat(length))
  // Two- three- and four-byte characters, and a lone surrogate (sent as U+FFFD, 3 bytes, as ws does).
  const wide = ['é✓😀'.repeat(700), 'a\ud800b'.repeat(400), '€'.repeat(21_845), '€'.repeat(21_846)]
  return [...ascii, ...wide]
}

test('reliable text frames of every size reach the client byte for byte, in order with short frames and acks', async (t) => {
  const app = await buildApp({}, (instance) => {
    instance.wsRoute('/ws', { reliable: true }, (connection) => {
      connection.on('message', (data) => { void connection.send(data) })
    })
  })
  t.after(() => cleanup(app))
  const url = await listen(app)
  const socket = new WebSocket(`${url}/ws`, SUBPROTOCOL)
  const frames: string[] = []
  const sent = payloads()
  const echoes = sent.length
  const done = new Promise<void>((resolve, reject) => {
    socket.on('message', (data: Buffer, isBinary) => {
      if (isBinary) reject(new Error('a text payload came back in a binary frame'))
      const text = data.toString()
      if (text.startsWith('D')) frames.push(text)
      if (frames.length === echoes) resolve()
    })
    socket.once('close', (code) => reject(new Error(`closed with ${code}`)))
  })
  await new Promise((resolve) => socket.once('open', resolve))
  socket.send(helloFrame())
  // All in one burst: the server answers many of them within one event-loop turn (one corked write).
  sent.forEach((payload, i) => socket.send(`D${i + 1}:${payload}`))
  await withExpiry(done, 10_000, 'every echo')
  // What a UTF-8 round trip makes of each payload (a lone surrogate becomes U+FFFD on the client already).
  const expected = sent.map((payload, i) => `D${i + 1}:${Buffer.from(payload).toString()}`)
  assert.equal(frames.length, expected.length)
  frames.forEach((frame, i) => assert.ok(frame === expected[i], `echo ${i + 1} (${sent[i].length} UTF-16 units) differs`))
  socket.close()
})
