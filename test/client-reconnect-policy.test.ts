// The client's reconnect decisions at their edges: the exact give-up errors, maxAttempts at its
// limit, the pause after 1013, 4429 and 4507 capped by maxDelay, and which closes count as
// protocol errors. Written from the mutants of lib/client/reconnect-policy.ts (docs/TESTING.md).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ReconnectPolicy, TRY_AGAIN_LATER_DELAY, type ReconnectDecision, type ReconnectOptions } from '../lib/client/reconnect-policy.js'
import { ClientErrorCode, ReliableClientError } from '../lib/client/client-errors.js'

function policy (options: Partial<ReconnectOptions> = {}, hookErrors: ReliableClientError[] = []): ReconnectPolicy {
  return new ReconnectPolicy({
    baseDelay: 100, maxDelay: 60_000, maxAttempts: Infinity, random: () => 0, shouldRetry: () => true, ...options
  }, (error) => hookErrors.push(error))
}

function giveUpError (decision: ReconnectDecision): ReliableClientError {
  if (decision.action !== 'give-up') throw new Error(`expected give-up, got ${decision.action}`)
  return decision.error
}

describe('reconnect policy: giving up', () => {
  it('names the close code and its reason in the give-up error, and carries the code', () => {
    const error = giveUpError(policy().decide({ code: 4409, reason: 'session replaced' }, false))
    assert.equal(error.code, ClientErrorCode.GAVE_UP)
    assert.equal(error.closeCode, 4409)
    assert.equal(error.message, 'Gave up reconnecting because of the close code (close code 4409: session replaced)')
  })

  it('leaves the reason out of the message when the close had none', () => {
    const error = giveUpError(policy().decide({ code: 1000, reason: '' }, false))
    assert.equal(error.message, 'Gave up reconnecting because of the close code (close code 1000)')
  })

  it('makes exactly maxAttempts attempts, then gives up naming the count', () => {
    const p = policy({ maxAttempts: 2 })
    const closed = { code: 1006, reason: '' }
    assert.deepEqual(p.decide(closed, false), { action: 'reconnect', attempt: 1, delay: 0 })
    assert.deepEqual(p.decide(closed, false), { action: 'reconnect', attempt: 2, delay: 0 })
    assert.equal(giveUpError(p.decide(closed, false)).message, 'Gave up reconnecting after 2 failed attempts (maxAttempts) (close code 1006)')
  })

  it('gives up when shouldRetry returns false, and says so', () => {
    const error = giveUpError(policy({ shouldRetry: () => false }).decide({ code: 1006, reason: '' }, false))
    assert.equal(error.message, 'Gave up reconnecting because shouldRetry returned false (close code 1006)')
  })

  it('reports a throwing shouldRetry as FRWS_ERR_CLIENT_GAVE_UP with the thrown error as its cause', () => {
    const thrown = new Error('hook broke')
    const hookErrors: ReliableClientError[] = []
    const p = policy({ shouldRetry: () => { throw thrown } }, hookErrors)
    assert.equal(p.decide({ code: 1006, reason: '' }, false).action, 'give-up')
    assert.equal(hookErrors.length, 1)
    assert.equal(hookErrors[0]?.code, ClientErrorCode.GAVE_UP)
    assert.equal(hookErrors[0]?.message, 'shouldRetry threw: Error: hook broke')
    assert.equal(hookErrors[0]?.cause, thrown)
  })
})

describe('reconnect policy: protocol errors in a row', () => {
  it('counts its own 4400 and a server 1002, gives up at the fourth, naming the count', () => {
    const p = policy()
    assert.equal(p.decide({ code: 1002, reason: '' }, false).action, 'reconnect')
    assert.equal(p.decide({ code: 4400, reason: 'bad' }, true).action, 'reconnect')
    assert.equal(p.decide({ code: 1002, reason: '' }, false).action, 'reconnect')
    assert.equal(giveUpError(p.decide({ code: 4400, reason: 'bad' }, true)).message,
      'Gave up reconnecting after 4 protocol errors in a row (close code 4400: bad)')
  })

  it('does not count a close by the client with another code as a protocol error', () => {
    const p = policy()
    for (let i = 0; i < 3; i++) assert.equal(p.decide({ code: 4400, reason: 'bad' }, true).action, 'reconnect')
    // A handshake timeout (4408 by the client) breaks the run.
    assert.equal(p.decide({ code: 4408, reason: 'handshake timeout' }, true).action, 'reconnect')
    assert.equal(p.decide({ code: 4400, reason: 'bad' }, true).action, 'reconnect')
  })
})

describe('reconnect policy: pauses', () => {
  it('waits at least TRY_AGAIN_LATER_DELAY after 1013, 4429 and 4507, but never more than maxDelay', () => {
    for (const code of [1013, 4429, 4507]) {
      assert.deepEqual(policy().decide({ code, reason: '' }, false), { action: 'reconnect', attempt: 1, delay: TRY_AGAIN_LATER_DELAY }, `code ${code}`)
      assert.deepEqual(policy({ maxDelay: 3000 }).decide({ code, reason: '' }, false), { action: 'reconnect', attempt: 1, delay: 3000 }, `code ${code} capped`)
    }
  })

  it('keeps a drawn delay longer than TRY_AGAIN_LATER_DELAY after 1013', () => {
    // Attempt 7: ceiling 100 * 2^6 = 6400, drawn whole by random ≈ 1.
    const p = policy({ random: () => 1 - Number.EPSILON })
    for (let attempt = 1; attempt <= 6; attempt++) p.decide({ code: 1006, reason: '' }, false)
    assert.deepEqual(p.decide({ code: 1013, reason: '' }, false), { action: 'reconnect', attempt: 7, delay: 6400 })
  })

  it('does not pause after other codes: 1006 with random 0 reconnects at once', () => {
    assert.deepEqual(policy().decide({ code: 1006, reason: '' }, false), { action: 'reconnect', attempt: 1, delay: 0 })
    assert.deepEqual(policy().decide({ code: 4420, reason: '' }, false), { action: 'reconnect', attempt: 1, delay: 0 })
  })
})
