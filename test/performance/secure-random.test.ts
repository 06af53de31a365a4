import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { randomBase64url, sha256Base64url } from '../../lib/reliable/secure-random.js'

test('random identifiers have the asked size and never repeat, across pool refills', () => {
  const seen = new Set<string>()
  // 3,000 x 32 bytes passes the 4 KiB pool more than 20 times.
  for (let i = 0; i < 3000; i++) {
    const id = randomBase64url(32)
    assert.equal(Buffer.from(id, 'base64url').length, 32)
    assert.ok(!seen.has(id), `repeated id after ${i} draws`)
    seen.add(id)
  }
  assert.equal(Buffer.from(randomBase64url(6), 'base64url').length, 6)
})

test('random identifiers are not all-zero bytes (the pool is overwritten after each draw, never before)', () => {
  const zeros = Buffer.alloc(16).toString('base64url')
  for (let i = 0; i < 1000; i++) assert.notEqual(randomBase64url(16), zeros)
})

test('sha256Base64url is the SHA-256 of the UTF-8 text, as createHash gives it', () => {
  for (const text of ['', 'token', 'fastify-reliable-ws session tag\nabc', 'é✓😀']) {
    assert.equal(sha256Base64url(text), createHash('sha256').update(text).digest('base64url'))
  }
})
