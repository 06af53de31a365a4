// The client's typed-message errors name their direction (lib/client/typed-payloads.ts): an
// invalid value to send and an invalid answer of onRequest are both "outgoing".
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { answerPayload, outgoingPayload } from '../lib/client/typed-payloads.js'
import { ReliableClientError } from '../lib/client/client-errors.js'
import { resolveMessages, type ResolvedMessages } from '../lib/messages/validate.js'
import { zodChat } from './messages/schemas.js'

const resolved = resolveMessages(zodChat, 'messages') as ResolvedMessages

describe('client typed payloads', () => {
  it('names an invalid value to send an outgoing message', () => {
    const error = outgoingPayload(resolved, 'send', 'fromClient', { type: 'say', text: '' }, undefined)
    assert.ok(error instanceof ReliableClientError)
    assert.match(error.message, /^Invalid outgoing message /)
  })

  it('names an invalid onRequest answer an outgoing message and answers with a generic reason', () => {
    const reported: ReliableClientError[] = []
    assert.deepEqual(answerPayload(resolved, { answer: 5 }, (error) => reported.push(error)), { ok: false, reason: 'invalid response' })
    assert.equal(reported.length, 1)
    assert.match(reported[0]?.message ?? '', /^Invalid outgoing message /)
  })
})
