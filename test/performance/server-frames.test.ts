import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { SUBPROTOCOL } from '../../lib/protocol/version.js'
import { TEXT_AS_BYTES_MIN_LENGTH } from '../../lib/reliable/server-frames.js'
import type { ReliableConnection } from '../../lib/index.js'
import { dropSession, openRawSession } from '../helpers/raw-session.js'
import { buildApp, cleanup, listen, withExpiry } from '../helpers/server.js'
import { helloFrame } from '../helpers/protocol-peer.js'

/** Text payloads around every length boundary of a frame head (126, 65536) and of the switch to UTF-8 bytes, ASCII and not. */
function payloads (): string[] {
  const lengths = [0, 1, 120, 125, TEXT_AS_BYTES_MIN_LENGTH - 1, TEXT_AS_BYTES_MIN_LENGTH, 4096, 65_520, 65_536, 70_000]
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

test('long text frames kept as bytes are replayed as text frames after a resume, byte for byte', async (t) => {
  let session: ReliableConnection | undefined
  const app = await buildApp({}, (instance) => {
    instance.wsRoute('/ws', { reliable: true }, (connection) => { session = connection })
  })
  t.after(() => cleanup(app))
  const url = await listen(app)
  const first = await openRawSession(`${url}/ws`)
  await dropSession(first)
  // Sent while the client is away: kept in the session's log until the resume replays them.
  const texts = ['short', 'ü'.repeat(TEXT_AS_BYTES_MIN_LENGTH), 'z'.repeat(5000)]
  const settled = texts.map((text) => session?.send(text))
  const frames: Array<{ text: string, isBinary: boolean }> = []
  const socket = new WebSocket(`${url}/ws`, SUBPROTOCOL)
  const replayed = new Promise<void>((resolve) => {
    socket.on('message', (data: Buffer, isBinary) => {
      // The first frame is the welcome.
      if (data[0] === 0x44) frames.push({ text: data.toString(), isBinary })
      if (frames.length === texts.length) resolve()
    })
  })
  socket.once('open', () => socket.send(helloFrame({ resume: first.resumeInfo() })))
  await withExpiry(replayed, 5000, 'the replay')
  assert.deepEqual(frames, texts.map((text, i) => ({ text: `D${i + 1}:${text}`, isBinary: false })))
  socket.send(`A${texts.length}`)
  await withExpiry(Promise.all(settled), 5000, 'the sends to settle on the ack')
  socket.close()
})
