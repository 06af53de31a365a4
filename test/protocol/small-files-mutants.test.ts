import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AckScheduler } from '../../lib/protocol/ack-scheduler.js'
import { parsePing, parsePong } from '../../lib/protocol/app-ping.js'
import {
  DEFAULT_ACK_EVERY, DEFAULT_ACK_INTERVAL, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_UNACKED, DEFAULT_MAX_UNACKED_BYTES,
  DEFAULT_SESSION_TIMEOUT
} from '../../lib/protocol/defaults.js'
import { InboundTracker } from '../../lib/protocol/inbound-tracker.js'
import { ProtocolError } from '../../lib/protocol/protocol-error.js'
import { isTextFrame, markTextFrame } from '../../lib/protocol/text-frame-bytes.js'
import {
  PROTOCOL_VERSION, SUBPROTOCOL, SUPPORTED_VERSIONS, answerSubprotocol, isSupportedVersion, selectSubprotocol,
  subprotocolFor, versionOfSubprotocol
} from '../../lib/protocol/version.js'

/*
 * The small files of lib/protocol, at the edges their mutants showed (docs/TESTING.md,
 * "Mutation testing").
 */

describe('version.ts', () => {
  it('speaks version 2 only, as frws.v2', () => {
    assert.equal(PROTOCOL_VERSION, 2)
    assert.deepEqual(SUPPORTED_VERSIONS, [2])
    assert.equal(SUBPROTOCOL, 'frws.v2')
    assert.equal(subprotocolFor(17), 'frws.v17')
    assert.equal(isSupportedVersion(2), true)
    for (const version of [0, 1, 3]) assert.equal(isSupportedVersion(version), false, String(version))
  })

  it('reads frws.v<1 to 6 digits, no leading zero> and nothing else', () => {
    assert.equal(versionOfSubprotocol('frws.v1'), 1)
    assert.equal(versionOfSubprotocol('frws.v999999'), 999999)
    for (const name of ['frws.v1000000', 'frws.v0', 'frws.v01', 'frws.v', 'xfrws.v2', 'frws.v2 ', 'frws.vx', 'frws.2']) {
      assert.equal(versionOfSubprotocol(name), undefined, name)
    }
  })

  it('selects frws.v2 among what was offered, and nothing when it was not offered', () => {
    assert.equal(selectSubprotocol(['chat', 'frws.v3', 'frws.v2', 'frws.v1']), 'frws.v2')
    assert.equal(selectSubprotocol(['frws.v1', 'frws.v3', 'chat']), false)
    assert.equal(selectSubprotocol([]), false)
  })

  it('answers with frws.v2 when offered, else with the newest version offered, else with nothing', () => {
    assert.equal(answerSubprotocol(new Set(['frws.v3', 'frws.v2'])), 'frws.v2')
    assert.equal(answerSubprotocol(new Set(['frws.v3', 'frws.v7', 'frws.v5'])), 'frws.v7')
    assert.equal(answerSubprotocol(new Set(['frws.v9', 'frws.v1'])), 'frws.v9')
    assert.equal(answerSubprotocol(new Set(['frws.v1'])), 'frws.v1')
    assert.equal(answerSubprotocol(new Set(['chat', 'frws.v01'])), false)
    assert.equal(answerSubprotocol(new Set()), false)
  })
})

describe('app-ping.ts', () => {
  it('reads a token only after a colon: another character after ping or pong makes no frame of it', () => {
    for (const text of ['frws:pingXabc', 'frws:ping abc', 'frws:ping;abc', 'frws:pingabc']) assert.equal(parsePing(text), undefined, text)
    for (const text of ['frws:pongXabc', 'frws:pong-abc']) assert.equal(parsePong(text), undefined, text)
    assert.equal(parsePing('frws:ping:abc'), 'abc')
    assert.equal(parsePong('frws:pong:abc'), 'abc')
  })
})

describe('inbound-tracker.ts', () => {
  it('acknowledges no further than the limit given, and each position once', () => {
    const tracker = new InboundTracker()
    for (let seq = 1; seq <= 5; seq++) assert.equal(tracker.accept(seq), 'deliver')
    assert.equal(tracker.unacked, 5)
    assert.equal(tracker.takeAckUpTo(3), 3)
    assert.equal(tracker.acked, 3)
    assert.equal(tracker.unacked, 2)
    assert.equal(tracker.takeAckUpTo(3), 0, 'already acknowledged')
    assert.equal(tracker.takeAckUpTo(2), 0, 'behind the acknowledged position')
    assert.equal(tracker.takeAckUpTo(10), 5, 'no further than delivered')
    assert.equal(tracker.takeAckUpTo(10), 0)
    assert.equal(tracker.acked, 5)
    assert.equal(tracker.takeAck(), 0)
  })

  it('names the seqs in its errors and closes with 4400', () => {
    const tracker = new InboundTracker(1)
    assert.throws(() => tracker.accept(3), (error: unknown) => {
      assert.ok(error instanceof ProtocolError)
      assert.equal(error.closeCode, 4400)
      assert.equal(error.message, 'gap in seq: expected 2, got 3')
      return true
    })
    const again = new InboundTracker()
    again.accept(1)
    again.accept(2)
    assert.throws(() => again.accept(2), { message: 'seq went backwards: 2 after 2' })
    again.startConnection()
    assert.equal(again.accept(1), 'duplicate', 'a new connection may start with a replayed seq')
    assert.equal(again.accept(3), 'deliver')
  })

  it('starts acknowledged at the position it was rebuilt from', () => {
    const tracker = new InboundTracker(7)
    assert.equal(tracker.delivered, 7)
    assert.equal(tracker.acked, 7)
    assert.equal(tracker.unacked, 0)
    assert.equal(tracker.takeAck(), 0)
  })
})

describe('defaults.ts', () => {
  it('holds the defaults documented in docs/PROTOCOL.md and the README', () => {
    assert.deepEqual(
      [DEFAULT_ACK_INTERVAL, DEFAULT_ACK_EVERY, DEFAULT_MAX_UNACKED, DEFAULT_MAX_UNACKED_BYTES, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_SESSION_TIMEOUT],
      [20, 64, 4096, 1_048_576, 10_000, 120_000])
    const scheduler = new AckScheduler({ source: { unacked: 0, takeAck: () => 0 }, sendAck: () => {} })
    assert.equal(scheduler.ackInterval, 20)
    assert.equal(scheduler.ackEvery, 64)
  })
})

describe('text-frame-bytes.ts', () => {
  it('marks bytes as a text frame in place, under a key other copies of the module share', () => {
    const bytes = new TextEncoder().encode('héllo')
    assert.equal(isTextFrame(bytes), false)
    const marked = markTextFrame(bytes)
    assert.equal(marked, bytes, 'the same bytes, not a copy')
    assert.deepEqual([...marked], [...new TextEncoder().encode('héllo')])
    assert.equal(isTextFrame(marked), true)
    assert.equal((marked as unknown as Record<symbol, unknown>)[Symbol.for('fastify-reliable-ws.textFrameBytes')], true)
    assert.equal(isTextFrame('text'), true)
    assert.equal(isTextFrame(''), true)
    assert.equal(isTextFrame(new Uint8Array(3)), false)
  })
})
