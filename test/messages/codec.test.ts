import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import { jsonCodec } from '../../lib/messages/codec.js'
import { decodeIncoming, encodeOutgoing, formatPath, validate } from '../../lib/messages/validate.js'
import { valibotChat, zodChat } from './schemas.js'

describe('the JSON codec and the validation of typed messages', () => {
  test('a value round-trips through encodeOutgoing and decodeIncoming with both Zod and Valibot', () => {
    for (const chat of [zodChat, valibotChat]) {
      const value = { type: 'say' as const, text: 'hé ✓', tags: ['a', 'b'] }
      const encoded = encodeOutgoing(jsonCodec, chat.fromClient, value)
      assert.ok(encoded.ok)
      assert.equal(typeof encoded.value, 'string', 'JSON travels in text frames')
      const decoded = decodeIncoming(jsonCodec, chat.fromClient, encoded.value)
      assert.deepEqual(decoded, { ok: true, value })
    }
  })

  test('the schema\'s output is what is encoded: Zod strips unknown keys before they reach the wire', () => {
    const encoded = encodeOutgoing(jsonCodec, zodChat.fromClient, { type: 'say', text: 'x', secret: 'not for the wire' })
    assert.deepEqual(encoded, { ok: true, value: '{"type":"say","text":"x"}' })
  })

  test('the first failing path is named, with the issue\'s message', () => {
    for (const chat of [zodChat, valibotChat]) {
      const checked = decodeIncoming(jsonCodec, chat.fromClient, '{"type":"say","text":"x","tags":["a",3]}')
      assert.equal(checked.ok, false)
      if (checked.ok) return
      assert.equal(checked.problem.path, 'tags[1]')
      assert.ok(checked.problem.issues.length >= 1)
      assert.notEqual(checked.problem.message, '')
    }
  })

  test('a payload that is not JSON, and a binary frame, fail at (decode)', () => {
    const notJson = decodeIncoming(jsonCodec, zodChat.fromClient, '{"type":')
    assert.equal(!notJson.ok && notJson.problem.path, '(decode)')
    const binary = decodeIncoming(jsonCodec, zodChat.fromClient, new Uint8Array([123, 125]))
    assert.equal(!binary.ok && binary.problem.message, 'expected a text frame')
  })

  test('a value JSON cannot encode fails at (encode); without a schema any JSON value passes', () => {
    const undefinedValue = encodeOutgoing(jsonCodec, undefined, undefined)
    assert.equal(!undefinedValue.ok && undefinedValue.problem.path, '(encode)')
    assert.deepEqual(decodeIncoming(jsonCodec, undefined, '[1,2]'), { ok: true, value: [1, 2] })
  })

  test('a schema that validates asynchronously is refused, marked async', () => {
    const slow = z.string().refine(async () => true)
    const checked = validate(slow, 'x')
    assert.equal(checked.ok, false)
    assert.equal(!checked.ok && checked.async, true)
  })

  test('paths: keys joined by dots, indexes in brackets, path segments objects unwrapped, (root) when empty', () => {
    assert.equal(formatPath(['items', 2, { key: 'price' }]), 'items[2].price')
    assert.equal(formatPath([0, 'a']), '[0].a')
    assert.equal(formatPath([]), '(root)')
    assert.equal(formatPath(undefined), '(root)')
  })
})
