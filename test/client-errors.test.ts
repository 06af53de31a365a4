// The client's coded error (lib/client/client-errors.ts): its name, code, close code and cause.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ClientErrorCode, ReliableClientError } from '../lib/client/client-errors.js'

describe('ReliableClientError', () => {
  it('is named ReliableClientError and carries its code, close code and cause', () => {
    const cause = new Error('socket hang up')
    const error = new ReliableClientError(ClientErrorCode.CONNECTION, 'could not connect', { cause, closeCode: 1006 })
    assert.equal(error.name, 'ReliableClientError')
    assert.equal(String(error), 'ReliableClientError: could not connect')
    assert.equal(error.code, ClientErrorCode.CONNECTION)
    assert.equal(error.closeCode, 1006)
    assert.equal(error.cause, cause)
  })

  it('has no cause property at all when none was given, like a plain Error', () => {
    const error = new ReliableClientError(ClientErrorCode.CLOSED, 'closed')
    assert.equal('cause' in error, false)
    assert.equal(error.closeCode, undefined)
  })
})
