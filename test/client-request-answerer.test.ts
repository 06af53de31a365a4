// How the client answers a server request, at the edges where mutants of
// lib/client/request-answerer.ts survived (docs/TESTING.md, "Mutation testing"): synchronous
// handlers, throws, null, and values that are not payloads.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { answerRequest, toAnswer, type Answer } from '../lib/client/request-answerer.js'

const NOT_A_PAYLOAD = 'the request handler returned neither a string, a Uint8Array nor an ArrayBuffer'

describe('client request answers', () => {
  it('takes strings and bytes as they are and refuses other values with a reason', () => {
    assert.deepEqual(toAnswer('pong'), { ok: true, payload: 'pong' })
    assert.deepEqual(toAnswer(Uint8Array.of(1, 2)), { ok: true, payload: Uint8Array.of(1, 2) })
    for (const value of [undefined, null, 5, { a: 1 }]) {
      assert.deepEqual(toAnswer(value), { ok: false, reason: NOT_A_PAYLOAD }, String(value))
    }
  })

  it('answers with an error when the client has no handler', () => {
    const answers: Answer[] = []
    answerRequest(undefined, 'ping', toAnswer, (answer) => answers.push(answer))
    assert.deepEqual(answers, [{ ok: false, reason: 'the client has no request handler' }])
  })

  it('answers a synchronous handler before returning, including one that returns null', () => {
    for (const [value, expected] of [['pong', { ok: true, payload: 'pong' }], [null, { ok: false, reason: NOT_A_PAYLOAD }]] as const) {
      const answers: Answer[] = []
      answerRequest(() => value, 'ping', toAnswer, (answer) => answers.push(answer))
      assert.deepEqual(answers, [expected])
    }
  })

  it('turns a synchronous throw into one error answer with the error message, or the thrown value as text', () => {
    const answers: Answer[] = []
    answerRequest(() => { throw new Error('no such item') }, 'ping', toAnswer, (answer) => answers.push(answer))
    answerRequest(() => { throw 'plain' as unknown as Error }, 'ping', toAnswer, (answer) => answers.push(answer))
    assert.deepEqual(answers, [{ ok: false, reason: 'no such item' }, { ok: false, reason: 'plain' }])
  })

  it('answers a promise once it settles, resolved or rejected', async () => {
    const answers: Answer[] = []
    const settled = new Promise<void>((resolve) => {
      answerRequest(async () => 'later', 'ping', toAnswer, (answer) => { answers.push(answer) })
      answerRequest(async () => { throw new Error('failed later') }, 'ping', toAnswer, (answer) => { answers.push(answer); resolve() })
    })
    assert.deepEqual(answers, [], 'nothing before the promises settle')
    await settled
    assert.deepEqual(answers, [{ ok: true, payload: 'later' }, { ok: false, reason: 'failed later' }])
  })
})
