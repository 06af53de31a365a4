import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AckScheduler } from '../lib/protocol/ack-scheduler.js'
import { encodePing, encodePong, isValidPingToken, MAX_PING_TOKEN_LENGTH, parsePing, parsePong } from '../lib/protocol/app-ping.js'
import { decodeFrame, encodeAck, encodeData, encodeDataFrame, encodeResponse, frameSize } from '../lib/protocol/frames.js'
import type { Payload } from '../lib/protocol/frames.js'
import { isValidEpoch, MAX_HANDSHAKE_FRAME_LENGTH, parseHello, parseWelcome } from '../lib/protocol/handshake.js'
import type { Welcome } from '../lib/protocol/handshake.js'
import { InboundTracker } from '../lib/protocol/inbound-tracker.js'
import { OutboundLog } from '../lib/protocol/outbound-log.js'
import { ProtocolError } from '../lib/protocol/protocol-error.js'
import { selectSubprotocol, versionOfSubprotocol } from '../lib/protocol/version.js'

// Boundaries and messages that mutation testing showed no other test pinned (docs/TESTING.md).

describe('app-level ping tokens at their limits', () => {
  it('takes exactly 64 printable characters, from ! to ~, and nothing longer or outside', () => {
    assert.equal(isValidPingToken('x'.repeat(MAX_PING_TOKEN_LENGTH)), true)
    assert.equal(isValidPingToken('x'.repeat(MAX_PING_TOKEN_LENGTH + 1)), false)
    assert.equal(isValidPingToken('!~'), true)
    assert.equal(isValidPingToken('a b'), false)
    assert.equal(isValidPingToken('a\u007f'), false)
    assert.equal(parsePing(`frws:ping:${'!'.repeat(MAX_PING_TOKEN_LENGTH)}`), '!'.repeat(MAX_PING_TOKEN_LENGTH))
    assert.equal(parsePing('frws:ping:~'), '~')
  })

  it('says what a bad token is', () => {
    assert.throws(() => encodePing('with space'), { name: 'TypeError', message: 'ping token must be 1 to 64 printable ASCII characters' })
  })

  it('reads a colon with no token after it as no ping at all', () => {
    assert.equal(parsePing('frws:ping:'), undefined)
    assert.equal(parsePong('frws:pong:'), undefined)
    assert.equal(parsePing('frws:ping'), '')
    assert.equal(encodePong(), 'frws:pong')
  })
})

describe('frame sizes in UTF-8', () => {
  it('counts 1, 2, 3 and 4 bytes per character at each boundary, and 3 for a lone surrogate', () => {
    assert.equal(frameSize('\u007f'), 1)
    assert.equal(frameSize('\u0080'), 2)
    assert.equal(frameSize('\u07ff'), 2)
    assert.equal(frameSize('\u0800'), 3)
    assert.equal(frameSize('\ud7ff'), 3)
    assert.equal(frameSize('😀'), 4)
    assert.equal(frameSize('\udbff\udfff'), 4)
    assert.equal(frameSize('\ud800'), 3)
    assert.equal(frameSize('\ud800a'), 4)
    assert.equal(frameSize('a\udc00'), 4)
    for (const text of ['\u007f\u0080\u07ff\u0800😀\ud800', 'é😀\udc00x']) {
      assert.equal(frameSize(text), Buffer.byteLength(text), JSON.stringify(text))
    }
  })
})

describe('constructor limits of the protocol pieces', () => {
  it('OutboundLog takes 1 as maxCount and maxBytes, and names what is wrong', () => {
    const log = new OutboundLog({ maxCount: 1, maxBytes: 1 })
    assert.equal(log.push('x', 1), 1)
    assert.throws(() => new OutboundLog({ maxCount: 0 }), { message: 'maxCount must be a positive integer' })
    assert.throws(() => new OutboundLog({ maxBytes: 0.5 }), { message: 'maxBytes must be at least 1' })
    assert.throws(() => new OutboundLog({ acked: -1 }), { message: 'acked must be a non-negative integer' })
  })

  it('AckScheduler takes ackInterval 0 and ackEvery 1, and names what is wrong', () => {
    const sent: number[] = []
    let delivered = 0
    let acked = 0
    const source = { get unacked () { return delivered - acked }, takeAck: () => { acked = delivered; return delivered } }
    const scheduler = new AckScheduler({ source, sendAck: (seq) => sent.push(seq), ackInterval: 0, ackEvery: 1 })
    delivered = 1
    scheduler.delivered()
    assert.deepEqual(sent, [1])
    assert.throws(() => new AckScheduler({ source, sendAck: () => {}, ackInterval: -1 }), { message: 'ackInterval must be a finite number >= 0' })
    assert.throws(() => new AckScheduler({ source, sendAck: () => {}, ackEvery: 0 }), { message: 'ackEvery must be a positive integer' })
  })

  it('InboundTracker refuses a negative or fractional start position', () => {
    assert.throws(() => new InboundTracker(-1), { name: 'TypeError', message: 'delivered must be a non-negative integer' })
    assert.throws(() => new InboundTracker(1.5), TypeError)
    assert.equal(new InboundTracker(0).delivered, 0)
  })

  it('ProtocolError is named ProtocolError', () => {
    assert.equal(new ProtocolError(4400, 'bad').name, 'ProtocolError')
  })
})

describe('subprotocol names', () => {
  it('reads only frws.v<n> exactly, and selects the newest supported of those offered', () => {
    assert.equal(versionOfSubprotocol('frws.v1'), 1)
    assert.equal(versionOfSubprotocol('xfrws.v1'), undefined)
    assert.equal(versionOfSubprotocol('chat.v1'), undefined)
    assert.equal(versionOfSubprotocol('frws.v1x'), undefined)
    assert.equal(versionOfSubprotocol('frws.v01'), undefined)
    assert.equal(selectSubprotocol(['frws.v1', 'frws.v2', 'frws.v1']), 'frws.v2')
    assert.equal(selectSubprotocol(['frws.v1', 'frws.v3']), false, 'versions this package does not speak')
    assert.equal(selectSubprotocol(['frws.v1x', 'chat']), false)
  })
})

describe('frame encoding at its limits', () => {
  it('names the bad argument of an encoder', () => {
    assert.throws(() => encodeData(0, 'x'), { name: 'TypeError', message: 'seq must be a positive safe integer' })
    assert.throws(() => encodeResponse(1, 0, 'x'), { message: 'ref must be a positive safe integer' })
    assert.throws(() => encodeAck(-1), { message: 'ack seq must be a positive safe integer' })
    assert.throws(() => encodeDataFrame('E', 1, 1, Uint8Array.of(1)), { message: 'an error response carries a text reason' })
  })

  it('shows a printable unknown type as itself and any other byte in hex', () => {
    const reasonOf = (frame: string | Uint8Array): string => {
      try {
        decodeFrame(frame)
      } catch (error) {
        return (error as Error).message
      }
      throw new Error('decoded')
    }
    assert.match(reasonOf('!1:x'), /'!'/)
    assert.match(reasonOf('~1:x'), /'~'/)
    assert.match(reasonOf(Uint8Array.of(0x20, 0x31, 0x3a)), /0x20/)
    assert.match(reasonOf(Uint8Array.of(0x7f, 0x31, 0x3a)), /0x7f/)
  })

  it('keeps every binary frame intact across several 8 KiB allocation slabs', () => {
    const frames: Array<{ frame: Payload, payload: Uint8Array }> = []
    for (let seq = 1; seq <= 400; seq++) {
      const payload = Uint8Array.from({ length: 37 + (seq % 50) }, (_, i) => (seq + i) & 0xff)
      frames.push({ frame: encodeData(seq, payload), payload })
    }
    // Also one frame larger than a quarter slab, which gets its own buffer.
    const big = new Uint8Array(3000).fill(7)
    frames.push({ frame: encodeData(401, big), payload: big })
    frames.forEach(({ frame, payload }, index) => {
      const decoded = decodeFrame(frame) as { seq: number, payload: Uint8Array }
      assert.equal(decoded.seq, index + 1)
      assert.deepEqual([...decoded.payload], [...payload], `frame ${index + 1}`)
    })
  })
})

describe('handshake frames at their limits', () => {
  const welcome: Welcome = {
    version: 2, sessionId: 'session-1', epoch: 'epoch-1', resumeToken: 'resume-token-of-session-1-xxxxxxxxxxxxxxxx', resumed: false, delivered: 0, pingInterval: 0, pongTimeout: 0,
    ackInterval: 20, ackEvery: 64, maxPayload: 1024, maxUnacked: 16, maxUnackedBytes: 1024, sessionTimeout: 1000
  }
  const withField = (key: string, value: unknown): string => 'W' + JSON.stringify({ ...welcome, [key]: value })

  it('names the welcome field that is not an integer within range', () => {
    for (const [key, min] of [['delivered', 0], ['pingInterval', 0], ['pongTimeout', 0], ['ackInterval', 0], ['ackEvery', 1],
      ['maxPayload', 1], ['maxUnacked', 1], ['maxUnackedBytes', 1], ['sessionTimeout', 0]] as const) {
      assert.throws(() => parseWelcome(withField(key, min - 1)), { message: `welcome.${key} must be an integer >= ${min}` }, key)
      assert.equal(parseWelcome(withField(key, min))[key], min)
    }
    assert.throws(() => parseWelcome(withField('version', 0)), { message: 'welcome.version must be an integer >= 1' })
    assert.throws(() => parseWelcome(withField('version', 1)), { message: 'unsupported protocol version 1 (supported: 2)' })
    assert.throws(() => parseWelcome(withField('version', 3)), { message: 'unsupported protocol version 3 (supported: 2)' })
    assert.throws(() => parseWelcome(withField('epoch', 'bad epoch')), /welcome/)
  })

  it('says a frame that is JSON but not an object is not an object', () => {
    for (const text of ['W5', 'Wnull', 'W[]', 'W"text"']) {
      assert.throws(() => parseWelcome(text), { message: 'welcome frame must be a JSON object' }, text)
    }
    for (const resume of ['5', 'null', '[]']) {
      assert.throws(() => parseHello(`H{"version":2,"resume":${resume}}`), { message: 'hello.resume must be an object when present' }, resume)
    }
  })

  it('takes a handshake frame of exactly the length limit', () => {
    const padded = (extra: number): string => withField('pad', 'x'.repeat(MAX_HANDSHAKE_FRAME_LENGTH - withField('pad', '').length + extra))
    assert.equal(padded(0).length, MAX_HANDSHAKE_FRAME_LENGTH)
    assert.equal(parseWelcome(padded(0)).sessionId, 'session-1')
    assert.throws(() => parseWelcome(padded(1)), { message: `welcome frame exceeds ${MAX_HANDSHAKE_FRAME_LENGTH} bytes` })
  })

  it('takes only epochs of 1 to 64 letters, digits, _ and -', () => {
    assert.equal(isValidEpoch('a'.repeat(64)), true)
    assert.equal(isValidEpoch('a'.repeat(65)), false)
    assert.equal(isValidEpoch(' abc'), false)
    assert.equal(isValidEpoch('abc '), false)
    assert.equal(isValidEpoch(5), false)
  })
})
