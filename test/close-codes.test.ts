import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  CloseCode, CloseReason, MAX_CLOSE_REASON_BYTES, isAbnormalCloseCode, isSendableCloseCode, truncateCloseReason
} from '../lib/protocol/close-codes.js'

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8')

describe('truncateCloseReason', () => {
  test('a reason within 123 bytes is returned unchanged', () => {
    for (const reason of ['', 'bye', 'x'.repeat(123), 'é'.repeat(61), '€'.repeat(41)]) {
      assert.equal(truncateCloseReason(reason), reason)
    }
  })

  test('a longer ASCII reason is cut to exactly 123 bytes', () => {
    const cut = truncateCloseReason('x'.repeat(500))
    assert.equal(cut, 'x'.repeat(123))
    assert.equal(MAX_CLOSE_REASON_BYTES, 123)
  })

  const multiByte: Array<[string, string, number]> = [
    ['two-byte characters', 'é'.repeat(70), 122],
    ['three-byte characters', '€'.repeat(50), 123],
    ['four-byte characters (surrogate pairs)', '😀'.repeat(40), 120],
    ['a mix that puts a four-byte character across the limit', 'a'.repeat(121) + '😀' + 'b', 121],
    ['a mix that puts a two-byte character across the limit', 'a'.repeat(122) + 'é', 122],
    ['a three-byte character ending exactly on the limit', 'a'.repeat(120) + '€' + 'tail', 123]
  ]
  for (const [name, reason, expectedBytes] of multiByte) {
    test(`a reason of ${name} is cut on a character boundary within 123 bytes`, () => {
      const cut = truncateCloseReason(reason)
      assert.equal(bytes(cut), expectedBytes)
      assert.ok(reason.startsWith(cut), 'the cut is a prefix of the reason')
      assert.ok(!cut.includes('\uFFFD'), 'no replacement character from a split sequence')
      assert.ok(!/[\uD800-\uDBFF]$/.test(cut), 'no dangling high surrogate')
    })
  }

  test('every cut of a long random-ish reason stays within 123 bytes and is a prefix', () => {
    const alphabet = ['a', 'é', '€', '😀', ' ', 'ß', '中']
    for (let length = 20; length < 200; length += 7) {
      const reason = Array.from({ length }, (_, i) => alphabet[(i * 5 + length) % alphabet.length]).join('')
      const cut = truncateCloseReason(reason)
      assert.ok(bytes(cut) <= 123, `length ${length}: ${bytes(cut)} bytes`)
      assert.ok(reason.startsWith(cut))
      // Cutting keeps as much as fits: one more character would pass the limit.
      if (cut !== reason) assert.ok(bytes(cut + [...reason.slice(cut.length)][0]) > 123)
    }
  })
})

describe('isSendableCloseCode', () => {
  test('accepts the RFC 6455 codes an endpoint may send and the 3000-4999 range', () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999]) {
      assert.equal(isSendableCloseCode(code), true, String(code))
    }
  })

  test('refuses reserved, unassigned and out-of-range codes', () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535, -1]) {
      assert.equal(isSendableCloseCode(code), false, String(code))
    }
  })

  test('every code of the table except the reserved 1005 and 1006 may be sent', () => {
    for (const [name, code] of Object.entries(CloseCode)) {
      const reserved = code === CloseCode.NO_STATUS || code === CloseCode.ABNORMAL
      assert.equal(isSendableCloseCode(code), !reserved, name)
    }
  })
})

describe('the close code table', () => {
  test('every CloseCode has a CloseReason of at most 123 bytes', () => {
    for (const [name, code] of Object.entries(CloseCode)) {
      const reason = CloseReason[code]
      assert.equal(typeof reason, 'string', name)
      assert.ok(reason.length > 0, name)
      assert.ok(bytes(reason) <= MAX_CLOSE_REASON_BYTES, name)
    }
  })

  test('CloseReason has no entry for a code missing from CloseCode', () => {
    const codes = new Set<number>(Object.values(CloseCode))
    for (const code of Object.keys(CloseReason)) assert.ok(codes.has(Number(code)), code)
  })

  test('codes are unique and private codes lie in 4000-4999', () => {
    const values = Object.values(CloseCode)
    assert.equal(new Set(values).size, values.length)
    for (const code of values) assert.ok((code >= 1000 && code <= 1015) || (code >= 4000 && code <= 4999), String(code))
  })

  test('1006, protocol errors, bad payloads and internal errors count as abnormal; normal and going away do not', () => {
    for (const code of [1002, 1006, 1007, 1011]) assert.equal(isAbnormalCloseCode(code), true, String(code))
    for (const code of [1000, 1001, 4000]) assert.equal(isAbnormalCloseCode(code), false, String(code))
  })
})
