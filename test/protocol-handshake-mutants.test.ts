// Resume-token validation where the rest of the suite let mutants of lib/protocol/handshake.ts
// survive (docs/TESTING.md, "Mutation testing"): the pattern is anchored at both ends, and only
// strings are tokens.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isValidResumeToken } from '../lib/protocol/handshake.js'

const TOKEN = 'a'.repeat(22)

describe('resume token validation', () => {
  it('takes 22 to 128 characters of A-Z a-z 0-9 _ - and nothing before or after them', () => {
    assert.equal(isValidResumeToken(TOKEN), true)
    assert.equal(isValidResumeToken('Zz09_-'.repeat(21) + 'ab'), true)
    assert.equal(isValidResumeToken('!' + TOKEN), false)
    assert.equal(isValidResumeToken(TOKEN + '!'), false)
    assert.equal(isValidResumeToken(' ' + TOKEN), false)
  })

  it('refuses values that only look like a token once turned into a string', () => {
    assert.equal(isValidResumeToken([TOKEN]), false)
    assert.equal(isValidResumeToken({ toString: () => TOKEN }), false)
    assert.equal(isValidResumeToken(1234567890123456789012345678901234567890n), false)
  })
})
