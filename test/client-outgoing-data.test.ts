// What the client accepts from the application, at the limits where mutants of
// lib/client/outgoing-data.ts survived (docs/TESTING.md, "Mutation testing"): timeouts, payload
// types and the close codes a browser script may send.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { checkOutgoing, checkTimeout, isClientCloseCode, MAX_TIMER_DELAY } from '../lib/client/outgoing-data.js'
import { ClientErrorCode, ReliableClientError } from '../lib/client/client-errors.js'

function timeoutError (timeout: unknown): string {
  return `timeout must be a number of ms from 0 to ${MAX_TIMER_DELAY} or Infinity, received ${String(timeout)}`
}

describe('client outgoing data', () => {
  it('takes undefined, Infinity and 0 to MAX_TIMER_DELAY ms as a timeout', () => {
    for (const timeout of [undefined, Infinity, 0, 1, MAX_TIMER_DELAY]) assert.equal(checkTimeout(timeout), undefined, String(timeout))
  })

  it('refuses other timeouts with FRWS_ERR_CLIENT_INVALID_ARGUMENT naming the value', () => {
    for (const timeout of [-1, MAX_TIMER_DELAY + 1, '5', Number.NaN, null]) {
      const error = checkTimeout(timeout)
      assert.ok(error instanceof ReliableClientError, String(timeout))
      assert.equal(error.code, ClientErrorCode.INVALID_ARGUMENT)
      assert.equal(error.message, timeoutError(timeout))
    }
  })

  it('refuses a payload that is not a string, a Uint8Array or an ArrayBuffer, naming the method', () => {
    const error = checkOutgoing('request', 5, undefined)
    assert.ok(error instanceof ReliableClientError)
    assert.equal(error.code, ClientErrorCode.INVALID_ARGUMENT)
    assert.equal(error.message, 'request() takes a string, a Uint8Array or an ArrayBuffer')
    assert.equal(checkOutgoing('send', 'x', undefined), 'x')
    assert.deepEqual(checkOutgoing('send', new ArrayBuffer(2), undefined), new Uint8Array(2))
    assert.equal((checkOutgoing('send', 'x', -1) as ReliableClientError).message, timeoutError(-1))
  })

  it('lets a script close with 1000 and 3000 to 4999 only', () => {
    for (const code of [1000, 3000, 4000, 4999]) assert.equal(isClientCloseCode(code), true, String(code))
    for (const code of [999, 1001, 2999, 5000, 3000.5]) assert.equal(isClientCloseCode(code), false, String(code))
  })
})
