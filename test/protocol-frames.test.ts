import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CloseCode } from '../lib/protocol/close-codes.js'
import { ProtocolError } from '../lib/protocol/protocol-error.js'
import {
  decodeFrame,
  encodeAck,
  encodeData,
  encodeDataFrame,
  encodeErrorResponse,
  encodeRequest,
  encodeResponse,
  frameSize,
  utf8Length,
  type DataFrame,
  type DecodeOptions
} from '../lib/protocol/frames.js'
import { encodePing, encodePong, parsePing, parsePong } from '../lib/protocol/app-ping.js'
import { encodeHello, encodeWelcome, type Welcome } from '../lib/protocol/handshake.js'
import { SUBPROTOCOL, selectSubprotocol, versionOfSubprotocol } from '../lib/protocol/version.js'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

function rejects (frame: string | Uint8Array, code: number, message: RegExp, options?: DecodeOptions): void {
  assert.throws(() => decodeFrame(frame, options), (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`)
    assert.equal(error.closeCode, code)
    assert.match(error.message, message)
    return true
  })
}

const TOKEN = 'tok_0123456789abcdefABCDEF-_xyz'

const welcome: Welcome = {
  version: 2,
  sessionId: 'abcDEF012_-',
  epoch: 'e1',
  resumeToken: TOKEN,
  resumed: true,
  delivered: 7,
  pingInterval: 25000,
  pongTimeout: 20000,
  ackInterval: 20,
  ackEvery: 64,
  maxPayload: 1048576,
  maxUnacked: 4096,
  maxUnackedBytes: 1048576,
  sessionTimeout: 120000
}

describe('data frames', () => {
  it('a text data frame is the type letter, the seq, a colon and the payload', () => {
    assert.equal(encodeData(1, 'hi'), 'D1:hi')
    assert.equal(encodeRequest(12, 'q'), 'Q12:q')
    assert.equal(encodeResponse(3, 12, 'r'), 'R3,12:r')
    assert.equal(encodeErrorResponse(4, 13, 'no handler'), 'E4,13:no handler')
  })

  it('text payloads round-trip, including empty, colon-laden and non-ASCII ones', () => {
    for (const payload of ['', 'plain', 'a:b:c', ':', '12:34', 'héllo wörld ✓ 😀', '{"x":1}']) {
      const frame = decodeFrame(encodeData(42, payload)) as DataFrame
      assert.deepEqual(frame, { type: 'D', seq: 42, ref: 0, payload })
    }
  })

  it('binary payloads round-trip as views into the received bytes', () => {
    const payload = Uint8Array.from([0, 58, 255, 68, 49, 58])
    const encoded = encodeData(9007199254740991, payload) as Uint8Array
    assert.ok(encoded instanceof Uint8Array)
    assert.equal(new TextDecoder().decode(encoded.subarray(0, 18)), 'D9007199254740991:')
    const frame = decodeFrame(encoded) as DataFrame
    assert.equal(frame.seq, 9007199254740991)
    assert.deepEqual([...(frame.payload as Uint8Array)], [...payload])
    assert.equal((frame.payload as Uint8Array).buffer, encoded.buffer, 'payload must share the frame buffer')
    assert.equal((frame.payload as Uint8Array).byteOffset, encoded.byteOffset + 18)
  })

  it('binary frames of every size round-trip, whether carved from the shared slab or not', () => {
    const frames: Uint8Array[] = []
    for (const size of [1, 100, 2040, 2048, 5000, 9000]) {
      const payload = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff)
      frames.push(encodeData(size, payload) as Uint8Array)
    }
    for (const [i, size] of [1, 100, 2040, 2048, 5000, 9000].entries()) {
      const frame = decodeFrame(frames[i]) as DataFrame
      assert.equal(frame.seq, size)
      assert.deepEqual([...(frame.payload as Uint8Array)], Array.from({ length: size }, (_, j) => (j * 7 + size) & 0xff))
    }
  })

  it('a binary frame uses the allocator it is given', () => {
    const frame = encodeDataFrame('D', 1, 0, Uint8Array.of(9), Buffer.allocUnsafe)
    assert.ok(Buffer.isBuffer(frame))
    assert.equal(frame.toString('latin1'), 'D1:\t')
  })

  it('an empty binary payload round-trips', () => {
    const frame = decodeFrame(encodeData(5, new Uint8Array(0))) as DataFrame
    assert.equal(frame.seq, 5)
    assert.ok(frame.payload instanceof Uint8Array)
    assert.equal(frame.payload.length, 0)
  })

  it('binary requests and responses keep their type and ref', () => {
    const request = decodeFrame(encodeRequest(2, Uint8Array.of(1))) as DataFrame
    assert.equal(request.type, 'Q')
    assert.equal(request.ref, 0)
    const response = decodeFrame(encodeResponse(8, 2, Uint8Array.of(1, 2))) as DataFrame
    assert.deepEqual({ type: response.type, seq: response.seq, ref: response.ref }, { type: 'R', seq: 8, ref: 2 })
    assert.deepEqual([...(response.payload as Uint8Array)], [1, 2])
  })

  it('a Node Buffer decodes like any Uint8Array', () => {
    const frame = decodeFrame(Buffer.from('D3:abc')) as DataFrame
    assert.equal(frame.seq, 3)
    assert.equal(Buffer.from(frame.payload as Uint8Array).toString(), 'abc')
  })

  it('encoders refuse seqs and refs that are not positive safe integers', () => {
    assert.throws(() => encodeData(0, 'x'), TypeError)
    assert.throws(() => encodeData(1.5, 'x'), TypeError)
    assert.throws(() => encodeData(2 ** 53, 'x'), TypeError)
    assert.throws(() => encodeResponse(1, 0, 'x'), TypeError)
    assert.throws(() => encodeAck(-1), TypeError)
    assert.throws(() => encodeDataFrame('E', 1, 1, Uint8Array.of(1)), TypeError)
  })
})

describe('malformed data frames', () => {
  const cases: Array<[string, string | Uint8Array, RegExp]> = [
    ['an empty text frame', '', /empty frame/],
    ['an empty binary frame', new Uint8Array(0), /empty frame/],
    ['an unknown type letter', 'X1:a', /unknown frame type 'X'/],
    ['an unprintable type byte', Uint8Array.of(0, 1), /unknown frame type 0x00 in a binary frame/],
    ['a missing seq', 'D:a', /data frame seq must be a positive integer/],
    ['a zero seq', 'D0:a', /data frame seq must be a positive integer/],
    ['a seq with a leading zero', 'D01:a', /without leading zeros/],
    ['a negative seq', 'D-1:a', /data frame seq must be a positive integer/],
    ['a seq above 2^53-1', 'D9007199254740992:a', /must not exceed 2\^53-1/],
    ['a seq of 17 digits', 'D10000000000000000:a', /must not exceed 2\^53-1/],
    ['a header without a colon', 'D12', /data frame header must end with ':'/],
    ['a header with a stray character', 'D12x:a', /data frame header must end with ':'/],
    ['a response without a ref', 'R3:a', /response frame seq must be followed by ',<ref>'/],
    ['a response with a zero ref', 'R3,0:a', /response frame ref must be a positive integer/],
    ['a request with a ref', 'Q3,1:a', /request frame header must end with ':'/],
    ['a binary header without a colon', bytes('D12'), /data frame header must end with ':'/],
    ['a binary frame with a bad seq', bytes('Dx:a'), /data frame seq must be a positive integer/],
    ['a binary error response', bytes('E1,1:a'), /error response frame must be a text frame/],
    ['a binary ack', bytes('A1'), /ack frame must be a text frame/],
    ['a binary hello', bytes('H{"version":2}'), /hello frame must be a text frame/],
    ['an ack with trailing characters', 'A5:', /ack frame must be 'A' followed by the seq only/],
    ['an ack of zero', 'A0', /ack frame seq must be a positive integer/],
    ['a lowercase letter that is not a ping', 'frws:pang', /must be frws:ping/],
    ['a ping with an invalid token', 'frws:ping:has space', /must be frws:ping/]
  ]
  for (const [name, frame, message] of cases) {
    it(`${name} closes with 4400`, () => rejects(frame, CloseCode.BAD_MESSAGE, message))
  }
})

describe('acks, pings and pongs', () => {
  it('an ack round-trips', () => {
    assert.equal(encodeAck(77), 'A77')
    assert.deepEqual(decodeFrame('A77'), { type: 'A', seq: 77 })
  })

  it('ping and pong frames round-trip with and without a token', () => {
    assert.equal(encodePing(), 'frws:ping')
    assert.equal(encodePong('t:1'), 'frws:pong:t:1')
    assert.deepEqual(decodeFrame(encodePing()), { type: 'ping', token: '' })
    assert.deepEqual(decodeFrame(encodePing('abc')), { type: 'ping', token: 'abc' })
    assert.deepEqual(decodeFrame(encodePong('abc')), { type: 'pong', token: 'abc' })
  })

  it('parsePing recognises exactly the ping frame and nothing else', () => {
    assert.equal(parsePing('frws:ping'), '')
    assert.equal(parsePing('frws:ping:42'), '42')
    for (const text of ['', 'frws:pin', 'frws:ping:', 'frws:pingx', 'frws:ping ', 'Frws:ping', 'frws:pong', 'hello',
      'frws:ping:' + 'x'.repeat(65), 'frws:ping:é']) {
      assert.equal(parsePing(text), undefined, text)
    }
    assert.equal(parsePong('frws:pong:x'), 'x')
    assert.equal(parsePong('frws:ping:x'), undefined)
  })

  it('ping encoders refuse tokens that could not be parsed back', () => {
    assert.throws(() => encodePing('with space'), TypeError)
    assert.throws(() => encodePong('x'.repeat(65)), TypeError)
  })
})

describe('hello and welcome', () => {
  it('a fresh hello round-trips', () => {
    assert.equal(encodeHello({ version: 2 }), 'H{"version":2}')
    assert.deepEqual(decodeFrame('H{"version":2}'), { type: 'H', version: 2 })
  })

  it('a resuming hello round-trips', () => {
    const resume = { sessionId: 'sid_1', epoch: 'ep-1', delivered: 0, token: TOKEN }
    assert.deepEqual(decodeFrame(encodeHello({ version: 2, resume })), { type: 'H', version: 2, resume })
  })

  it('a welcome round-trips and ignores unknown fields', () => {
    assert.deepEqual(decodeFrame(encodeWelcome(welcome)), { type: 'W', ...welcome })
    const extended = 'W' + JSON.stringify({ ...welcome, future: true })
    assert.deepEqual(decodeFrame(extended), { type: 'W', ...welcome })
  })

  const malformed: Array<[string, string, RegExp]> = [
    ['bad JSON', 'H{"version":', /hello frame is not valid JSON/],
    ['a JSON array', 'H[1]', /hello frame must be a JSON object/],
    ['JSON null', 'Hnull', /hello frame must be a JSON object/],
    ['a missing version', 'H{}', /hello.version must be an integer >= 1/],
    ['a string version', 'H{"version":"1"}', /hello.version must be an integer >= 1/],
    ['a null resume', 'H{"version":2,"resume":null}', /hello.resume must be an object/],
    ['a resume without sessionId', 'H{"version":2,"resume":{"epoch":"e","delivered":0,"token":"' + TOKEN + '"}}', /hello.resume.sessionId/],
    ['a session id with a slash', 'H{"version":2,"resume":{"sessionId":"a/b","epoch":"e","delivered":0,"token":"' + TOKEN + '"}}', /hello.resume.sessionId/],
    ['an empty epoch', 'H{"version":2,"resume":{"sessionId":"a","epoch":"","delivered":0}}', /hello.resume.epoch/],
    ['a negative delivered', 'H{"version":2,"resume":{"sessionId":"a","epoch":"e","delivered":-1}}', /hello.resume.delivered must be an integer >= 0/],
    ['a fractional delivered', 'H{"version":2,"resume":{"sessionId":"a","epoch":"e","delivered":1.5}}', /hello.resume.delivered/],
    ['a resume without a token', 'H{"version":2,"resume":{"sessionId":"a","epoch":"e","delivered":0}}', /hello.resume.token/],
    ['a resume token of 21 characters', 'H' + JSON.stringify({ version: 2, resume: { sessionId: 'a', epoch: 'e', delivered: 0, token: 'x'.repeat(21) } }), /hello.resume.token/],
    ['a resume token with a dot', 'H' + JSON.stringify({ version: 2, resume: { sessionId: 'a', epoch: 'e', delivered: 0, token: TOKEN + '.' } }), /hello.resume.token/],
    ['a welcome without a resume token', 'W' + JSON.stringify({ ...welcome, resumeToken: undefined }), /welcome.resumeToken/],
    ['a welcome without resumed', 'W' + JSON.stringify({ ...welcome, resumed: undefined }), /welcome.resumed must be a boolean/],
    ['a welcome with ackEvery 0', 'W' + JSON.stringify({ ...welcome, ackEvery: 0 }), /welcome.ackEvery must be an integer >= 1/]
  ]
  for (const [name, frame, message] of malformed) {
    it(`${name} closes with 4400`, () => rejects(frame, CloseCode.BAD_MESSAGE, message))
  }

  it('an unsupported version closes with 4426 and names the supported ones', () => {
    rejects('H{"version":1}', CloseCode.UNSUPPORTED_VERSION, /unsupported protocol version 1 \(supported: 2\)/)
    rejects('W' + JSON.stringify({ ...welcome, version: 3 }), CloseCode.UNSUPPORTED_VERSION, /version 3/)
  })

  it('a handshake frame over 4096 characters closes with 1009', () => {
    rejects('H{"version":2,"pad":"' + 'x'.repeat(4100) + '"}', CloseCode.MESSAGE_TOO_BIG, /hello frame exceeds 4096/)
  })

  it('a frame sent in the wrong direction closes with 4400 when the sender is known', () => {
    rejects(encodeWelcome(welcome), CloseCode.BAD_MESSAGE, /welcome frame is sent by the server only/, { sender: 'client' })
    rejects('H{"version":2}', CloseCode.BAD_MESSAGE, /hello frame is sent by the client only/, { sender: 'server' })
    assert.equal(decodeFrame('H{"version":2}', { sender: 'client' }).type, 'H')
  })
})

describe('size limits', () => {
  it('a frame larger than maxPayload closes with 1009', () => {
    rejects('D1:' + 'x'.repeat(10), CloseCode.MESSAGE_TOO_BIG, /exceeds maxPayload of 12 bytes/, { maxPayload: 12 })
    rejects(encodeData(1, new Uint8Array(10)), CloseCode.MESSAGE_TOO_BIG, /maxPayload/, { maxPayload: 12 })
  })

  it('maxPayload counts UTF-8 bytes of text frames, not characters', () => {
    const frame = 'D1:' + 'é'.repeat(5)
    assert.equal(frame.length, 8)
    rejects(frame, CloseCode.MESSAGE_TOO_BIG, /maxPayload/, { maxPayload: 12 })
    assert.equal(decodeFrame(frame, { maxPayload: 13 }).type, 'D')
  })

  it('utf8Length and frameSize agree with TextEncoder', () => {
    for (const text of ['', 'abc', 'é', '✓', '😀', 'a😀b', '\ud800', '\udc00x', 'mixed é ✓ 😀 text']) {
      assert.equal(utf8Length(text), new TextEncoder().encode(text).length, JSON.stringify(text))
    }
    assert.equal(frameSize(Uint8Array.of(1, 2, 3)), 3)
    assert.equal(frameSize('D1:é'), 5)
  })

  it('utf8Length counts long texts exactly, surrogate pairs across its 8192-unit chunks included', () => {
    // Every offset around the chunk boundaries (8192, 16384) gets a pair, a lone surrogate or a 2-byte char.
    for (const pad of [8189, 8190, 8191, 8192, 16382, 16383]) {
      for (const piece of ['😀', '\ud800', '\udc00', 'é', '✓😀']) {
        const text = 'a'.repeat(pad) + piece + 'b'.repeat(9000) + piece
        assert.equal(utf8Length(text), Buffer.byteLength(text), `pad ${pad}, ${JSON.stringify(piece)}`)
      }
    }
    const emoji = '😀'.repeat(20_000)
    assert.equal(utf8Length(emoji), 80_000)
  })
})

describe('subprotocol negotiation', () => {
  it('the server selects frws.v2 when the client offers it', () => {
    assert.equal(SUBPROTOCOL, 'frws.v2')
    assert.equal(selectSubprotocol(new Set(['chat', 'frws.v2'])), 'frws.v2')
    assert.equal(selectSubprotocol(['frws.v3', 'frws.v2', 'frws.v1']), 'frws.v2')
  })

  it('the server selects nothing when no supported version is offered', () => {
    assert.equal(selectSubprotocol([]), false)
    assert.equal(selectSubprotocol(['frws.v1', 'frws.v3', 'frws.v02', 'frws.vx']), false)
  })

  it('versionOfSubprotocol parses only frws.v<positive integer>', () => {
    assert.equal(versionOfSubprotocol('frws.v12'), 12)
    assert.equal(versionOfSubprotocol('frws.v0'), undefined)
    assert.equal(versionOfSubprotocol('graphql-ws'), undefined)
  })
})
