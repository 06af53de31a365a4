// Property-based fuzzing of the RFC 6455 framing layer: random frames, valid and broken, written on
// a raw TCP socket at a running echo server; its replies are checked against an RFC model.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import type { CloseInfo } from '../../lib/index.js'
import { SINGLE_ADDRESS_LOAD, buildApp, cleanup, listen, openClient, waitFor } from '../helpers/server.js'
import type { TestClient } from '../helpers/server.js'
import { mostly } from './arbitraries.js'
import { fuzzParameters, recordProcessFaults, replayHint } from './fuzz-settings.js'
import type { ProcessFaults } from './fuzz-settings.js'
import { Opcode, closeCodeOf, encodeClientFrame, openRawClient, wellFormed } from './raw-websocket.js'
import type { ClientFrame, ServerFrame } from './raw-websocket.js'
import { MAX_FRAGMENTS, Rfc6455Model } from './rfc6455-model.js'

/** Small, so that fragments and lying lengths cross it often. */
const MAX_PAYLOAD = 512
/** CI default; FRWS_FUZZ_RUNS raises it. */
const DEFAULT_RUNS = 1500

const text = fc.string({ unit: 'grapheme', maxLength: 24 }).map((s) => new Uint8Array(Buffer.from(s)))
/** A UTF-8 string with one byte replaced: mostly invalid, sometimes still valid. */
const corruptedText = fc.tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), fc.nat(), fc.integer({ min: 0x80, max: 0xff }))
  .map(([s, at, byte]) => {
    const bytes = new Uint8Array(Buffer.from(s))
    bytes[at % bytes.length] = byte
    return bytes
  })
const dataPayload = fc.oneof({ withCrossShrink: true },
  { weight: 6, arbitrary: text },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: corruptedText },
  { weight: 1, arbitrary: fc.integer({ min: 120, max: MAX_PAYLOAD + 40 }).map((n) => new Uint8Array(n).fill(0x61)) })

const closeCode = fc.oneof({ withCrossShrink: true },
  { weight: 4, arbitrary: fc.constantFrom(1000, 1001, 1003, 1008, 1011, 3000, 4000, 4999) },
  { weight: 1, arbitrary: fc.constantFrom(0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 65535 }) })
const closePayload = fc.oneof({ withCrossShrink: true },
  { weight: 4, arbitrary: fc.tuple(closeCode, fc.oneof(text, corruptedText)).map(([code, reason]) => {
    const bytes = new Uint8Array(2 + Math.min(reason.length, 100))
    new DataView(bytes.buffer).setUint16(0, code)
    bytes.set(reason.subarray(0, 100), 2)
    return bytes
  }) },
  { weight: 1, arbitrary: fc.constantFrom(new Uint8Array(0), new Uint8Array([3])) })

/** `bytes` cut at the given offsets (taken modulo its length + 1). */
function split (bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let start = 0
  for (const point of points) {
    if (point > start) chunks.push(bytes.subarray(start, point))
    start = Math.max(start, point)
  }
  chunks.push(bytes.subarray(start))
  return chunks
}

/** The header fields, usually those of a well-formed frame. */
function frame (opcodes: fc.Arbitrary<number>, payload: fc.Arbitrary<Uint8Array>, fin: fc.Arbitrary<boolean>): fc.Arbitrary<ClientFrame> {
  return fc.record({
    opcode: opcodes,
    fin,
    rsv: mostly(0, [1, 2, 4, 7], 20),
    masked: mostly(true, [false], 20),
    lengthField: mostly<ClientFrame['lengthField']>('shortest', ['16-bit', '64-bit', 'beyond 2^53'], 20),
    lengthLie: mostly(0, [-3, -1, 1, 2, 7, 300, MAX_PAYLOAD], 15),
    payload
  })
}

/** One message cut into fragments at arbitrary byte positions (so UTF-8 characters may straddle two). */
const fragmentedMessage: fc.Arbitrary<ClientFrame[]> = fc.record({
  opcode: fc.constantFrom(Opcode.TEXT, Opcode.BINARY),
  payload: dataPayload,
  cuts: fc.array(fc.nat(), { minLength: 1, maxLength: 3 })
}).map(({ opcode, payload, cuts }) => split(Buffer.from(payload), cuts).map((part, index, parts) => ({
  fin: index === parts.length - 1,
  rsv: 0,
  opcode: index === 0 ? opcode : Opcode.CONTINUATION,
  masked: true,
  lengthField: 'shortest' as const,
  lengthLie: 0,
  payload: new Uint8Array(part)
})))

const controlPayload = fc.oneof({ withCrossShrink: true },
  { weight: 8, arbitrary: text },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 124, maxLength: 127 }) })

/** Frames in the order they go out: single frames (any header) and well-formed fragmented messages. */
const clientFrames: fc.Arbitrary<ClientFrame[]> = fc.array(fc.oneof({ withCrossShrink: true },
  { weight: 8, arbitrary: frame(fc.constantFrom(Opcode.TEXT, Opcode.BINARY), dataPayload, mostly(true, [false], 6)).map((f) => [f]) },
  { weight: 3, arbitrary: fragmentedMessage },
  { weight: 3, arbitrary: frame(fc.constantFrom(Opcode.PING, Opcode.PONG), controlPayload, mostly(true, [false], 20)).map((f) => [f]) },
  { weight: 1, arbitrary: frame(fc.constant(Opcode.CONTINUATION), dataPayload, mostly(true, [false], 2)).map((f) => [f]) },
  { weight: 1, arbitrary: frame(fc.constant(Opcode.CLOSE), closePayload, mostly(true, [false], 10)).map((f) => [f]) },
  { weight: 1, arbitrary: frame(fc.constantFrom(3, 4, 7, 0xb, 0xf), text, fc.constant(true)).map((f) => [f]) }
), { minLength: 1, maxLength: 5 }).map((groups) => groups.flat())

/** A case: frames, and where the byte stream is cut into separate writes (TCP chunks). */
const fuzzCase = fc.record({
  frames: clientFrames,
  cuts: fc.array(fc.nat(), { maxLength: 3 })
})

let app: FastifyInstance
let url: string
let beside: TestClient
let faults: ProcessFaults
let besideCount = 0
/** The `close` events of the server's connections, in order. */
const serverCloses: CloseInfo[] = []

before(async () => {
  faults = recordProcessFaults()
  app = await buildApp({ maxPayload: MAX_PAYLOAD, ...SINGLE_ADDRESS_LOAD }, (instance) => {
    instance.wsRoute('/ws', (connection) => {
      connection.on('message', (data) => { void connection.send(data) })
      connection.on('close', (info) => serverCloses.push(info))
    })
  })
  url = `${await listen(app)}/ws`
  beside = await openClient(url)
})

after(async () => {
  faults.uninstall()
  await cleanup(app)
})

function summary (frames: ServerFrame[]): { messages: Array<{ binary: boolean, payload: Buffer }>, pongs: Buffer[], closeCodes: number[] } {
  return {
    messages: frames.filter((f) => f.opcode === Opcode.TEXT || f.opcode === Opcode.BINARY)
      .map((f) => ({ binary: f.opcode === Opcode.BINARY, payload: f.payload })),
    pongs: frames.filter((f) => f.opcode === Opcode.PONG).map((f) => f.payload),
    closeCodes: frames.filter((f) => f.opcode === Opcode.CLOSE).map(closeCodeOf)
  }
}

async function checkCase (frames: ClientFrame[], cuts: number[]): Promise<void> {
  const model = new Rfc6455Model(MAX_PAYLOAD)
  const closesBefore = serverCloses.length
  const client = await openRawClient(url)
  try {
    const bytes = Buffer.concat(frames.map(encodeClientFrame))
    model.feed(bytes)
    for (const chunk of split(bytes, cuts)) {
      await client.write(chunk)
      await new Promise(setImmediate)
    }
    const usable = !model.closed && !model.incomplete
    if (usable) {
      // The connection must still work: finish a fragmented message, then a probe must come back.
      const probe = [...(model.midMessage ? [wellFormed(Opcode.CONTINUATION, new Uint8Array(0))] : []), wellFormed(Opcode.TEXT, Buffer.from('probe'))]
      for (const part of probe) model.feed(part)
      await client.write(Buffer.concat(probe))
    }
    const expected = model.expected
    if (expected.closeCode === undefined) {
      const want = (f: ServerFrame[]): boolean => {
        const seen = summary(f)
        return seen.messages.length >= expected.messages.length && seen.pongs.length >= expected.pongs.length
      }
      await client.until(want, `${expected.messages.length} messages and ${expected.pongs.length} pongs`)
      if (usable) {
        await client.write(wellFormed(Opcode.CLOSE, Buffer.from([0x03, 0xe8])))
        expected.closeCode = 1000
        expected.closedBy = 'client'
      } else {
        // The server waits for the rest of a frame that never comes; drop the connection.
        client.socket.destroy()
      }
    }
    await Promise.race([client.ended, client.until(() => false, 'the end of the connection').catch(() => {})])
    const seen = summary(client.frames)
    assert.deepEqual(seen.messages, expected.messages, 'echoed messages')
    assert.deepEqual(seen.pongs, expected.pongs, 'pongs')
    const closeCodes = usable || expected.closeWhy !== undefined ? [expected.closeCode] : []
    assert.deepEqual(seen.closeCodes, closeCodes, `close code (${expected.closeWhy ?? 'normal close after the probe'})`)
    assert.ok(client.frames.every((f) => !f.masked), 'server frames are never masked')
    assert.equal(client.leftover(), 0, 'the server sent whole frames only')
  } finally {
    client.socket.destroy()
  }
  // The server forgot the connection and reported the same close, and the connection beside it still echoes.
  await waitFor(() => app.wsConnections.size === 1 && app.wsHeartbeat.stats().connections === 1, 'the registry to drop the fuzzed connection', 5000)
  const { closedBy, closeCode, closeWhy } = model.expected
  const reported = serverCloses.slice(closesBefore).map(({ code, cause }) => ({ code, cause }))
  assert.deepEqual(reported, [closedBy === 'server' ? { code: closeCode, cause: 'error' } : { code: closeCode ?? 1006, cause: 'client' }],
    `the server's close event (${closeWhy ?? 'normal close'})`)
  const probe = `beside ${++besideCount}`
  beside.socket.send(probe)
  assert.equal(await beside.next(5000), probe, 'the connection beside still echoes')
  assert.deepEqual(faults.faults, [], 'no uncaught exception or unhandled rejection')
}

test('random RFC 6455 frames get the documented close code or an echo, and never harm the server', async (t) => {
  const parameters = fuzzParameters<[{ frames: ClientFrame[], cuts: number[] }]>(DEFAULT_RUNS)
  t.diagnostic(replayHint(parameters))
  await fc.assert(fc.asyncProperty(fuzzCase, ({ frames, cuts }) => checkCase(frames, cuts)), parameters)
})

test('the model and the server agree on hand-picked frames', async () => {
  // Fixed cases beside the random ones, so that each documented code is known to be reached.
  const textFrame = (payload: string, fields: Partial<ClientFrame> = {}): ClientFrame =>
    ({ fin: true, rsv: 0, opcode: Opcode.TEXT, masked: true, lengthField: 'shortest', lengthLie: 0, payload: Buffer.from(payload), ...fields })
  const cases: Array<[string, ClientFrame[], number | undefined]> = [
    ['a valid text frame', [textFrame('hi')], undefined],
    ['RSV1 without an extension', [textFrame('hi', { rsv: 4 })], 1002],
    ['an unknown opcode', [textFrame('hi', { opcode: 3 })], 1002],
    ['an unmasked client frame', [textFrame('hi', { masked: false })], 1002],
    ['a continuation without a message', [textFrame('hi', { opcode: Opcode.CONTINUATION })], 1002],
    ['a fragmented ping', [textFrame('hi', { opcode: Opcode.PING, fin: false })], 1002],
    ['a 126-byte ping', [textFrame('x'.repeat(126), { opcode: Opcode.PING })], 1002],
    ['invalid UTF-8 in a text message', [{ ...textFrame(''), payload: new Uint8Array([0xc3, 0x28]) }], 1007],
    ['a message over maxPayload', [textFrame('x'.repeat(MAX_PAYLOAD + 1))], 1009],
    ['fragments adding up over maxPayload', [textFrame('x'.repeat(300), { fin: false }), textFrame('x'.repeat(300), { opcode: Opcode.CONTINUATION })], 1009],
    ['a length above 2^53 - 1', [textFrame('hi', { lengthField: 'beyond 2^53' })], 1009],
    ['a close frame with code 1005', [{ ...textFrame(''), opcode: Opcode.CLOSE, payload: new Uint8Array([0x03, 0xed]) }], 1002],
    ['a close frame with a 1-byte body', [{ ...textFrame(''), opcode: Opcode.CLOSE, payload: new Uint8Array([0x03]) }], 1002],
    ['a close frame with code 4000', [{ ...textFrame(''), opcode: Opcode.CLOSE, payload: new Uint8Array([0x0f, 0xa0]) }], 4000],
    [`${MAX_FRAGMENTS} frames in one message`, [textFrame('', { fin: false }), ...Array.from({ length: MAX_FRAGMENTS - 2 }, () => textFrame('', { opcode: Opcode.CONTINUATION, fin: false })), textFrame('', { opcode: Opcode.CONTINUATION })], undefined],
    [`${MAX_FRAGMENTS + 1} frames in one message`, [textFrame('', { fin: false }), ...Array.from({ length: MAX_FRAGMENTS }, () => textFrame('', { opcode: Opcode.CONTINUATION, fin: false }))], 1008]
  ]
  for (const [name, frames, code] of cases) {
    const model = new Rfc6455Model(MAX_PAYLOAD)
    model.feed(Buffer.concat(frames.map(encodeClientFrame)))
    assert.equal(model.expected.closeCode, code, `model: ${name}`)
    await checkCase(frames, [])
  }
})
