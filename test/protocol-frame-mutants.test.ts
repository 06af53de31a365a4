// Frame encoding and decoding where the rest of the suite let mutants of lib/protocol/frames.ts
// survive (docs/TESTING.md, "Mutation testing"): UTF-8 sizes of characters followed by 2- and
// 3-byte characters, binary response frames with a broken header, binary frames under maxPayload.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { decodeFrame, utf8Length, type Payload } from '../lib/protocol/frames.js'
import { ProtocolError } from '../lib/protocol/protocol-error.js'

const encoder = new TextEncoder()

function refusal (frame: Payload, options?: Parameters<typeof decodeFrame>[1]): string {
  try {
    decodeFrame(frame, options)
  } catch (error) {
    if (error instanceof ProtocolError) return `${error.closeCode} ${error.message}`
    throw error
  }
  return 'accepted'
}

describe('utf8Length around surrogates', () => {
  it('counts a character of 3 bytes followed by one of 2 or 3 bytes, or by a lone low surrogate, in full', () => {
    // A wrong pair test would take the second character as the low half of a pair and skip it.
    for (const text of ['\u0800é', '\u0800\u0800', '\u0800\udc00', '\ud7ffé', '\ud800é', '\ud800\u0800', '\udc00\udc00', '\ue000\udc00', '\udbffé']) {
      assert.equal(utf8Length(text), encoder.encode(text).length, JSON.stringify(text))
    }
  })

  it('counts the lowest and highest surrogate pairs as 4 bytes', () => {
    assert.equal(utf8Length('\ud800\udc00'), 4)
    assert.equal(utf8Length('\udbff\udfff'), 4)
    assert.equal(utf8Length('a\ud800\udc00é'), 1 + 4 + 2)
  })
})

describe('binary frames', () => {
  it('refuses a binary welcome frame, naming it', () => {
    assert.equal(refusal(encoder.encode('W{}')), "4400 welcome frame must be a text frame")
  })

  it('refuses a binary response without a ref, and one whose ref is 0, naming the field', () => {
    assert.equal(refusal(encoder.encode('R1:x')), "4400 response frame seq must be followed by ',<ref>'")
    assert.equal(refusal(encoder.encode('R1,0:x')), '4400 response frame ref must be a positive integer without leading zeros')
    assert.equal(refusal(encoder.encode('R1,:x')), '4400 response frame ref must be a positive integer without leading zeros')
  })

  it('decodes a binary response with its ref', () => {
    const frame = decodeFrame(encoder.encode('R7,3:ok'), { sender: 'server' })
    assert.deepEqual(frame.type === 'R' && [frame.seq, frame.ref, [...frame.payload as Uint8Array]], [7, 3, [...encoder.encode('ok')]])
  })

  it('measures a binary frame by its bytes under maxPayload: one of 5 bytes passes a limit of 10, 5 and fails at 4', () => {
    const bytes = encoder.encode('D1:ab')
    assert.equal(decodeFrame(bytes, { maxPayload: 10 }).type, 'D')
    assert.equal(decodeFrame(bytes, { maxPayload: 5 }).type, 'D')
    assert.equal(refusal(bytes, { maxPayload: 4 }), '1009 frame exceeds maxPayload of 4 bytes')
  })
})
