import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AckScheduler } from '../lib/protocol/ack-scheduler.js'
import { encodePing, isValidPingToken, MAX_PING_TOKEN_LENGTH, parsePing, parsePong } from '../lib/protocol/app-ping.js'
import { frameSize } from '../lib/protocol/frames.js'
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
    assert.equal(versionOfSubprotocol('frws.v1x'), undefined)
    assert.equal(versionOfSubprotocol('frws.v01'), undefined)
    assert.equal(selectSubprotocol(['frws.v2', 'frws.v1', 'frws.v1']), 'frws.v1')
    assert.equal(selectSubprotocol(['frws.v1x', 'chat']), false)
  })
})
