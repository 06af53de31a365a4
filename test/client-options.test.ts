// Every client option checked at construction, at its limits and with the exact message
// (lib/client/client-options.ts). Written from mutants that survived the client tests, which
// only checked that some invalid options throw (docs/TESTING.md, "Mutation testing").
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import WebSocketImpl from 'ws'
import { resolveClientOptions, type ReliableClientOptions } from '../lib/client/client-options.js'
import { ClientErrorCode, ReliableClientError } from '../lib/client/client-errors.js'

const MAX = 2_147_483_647
const base = { WebSocket: WebSocketImpl } as unknown as ReliableClientOptions

function message (options: Record<string, unknown>): string {
  try {
    resolveClientOptions({ ...base, ...options } as ReliableClientOptions)
  } catch (error) {
    assert.ok(error instanceof ReliableClientError)
    return `${error.code} ${error.message}`
  }
  return 'accepted'
}

const invalid = (name: string, expected: string, shown: string): string =>
  `${ClientErrorCode.INVALID_OPTION} Invalid option "${name}": expected ${expected}, received ${shown}`

describe('client options', () => {
  it('takes durations from 0 to 2^31-1 ms, Infinity only for requestTimeout', () => {
    for (const name of ['baseDelay', 'requestTimeout']) {
      assert.equal(message({ [name]: 0 }), 'accepted', name)
    }
    assert.equal(message({ baseDelay: MAX, maxDelay: MAX }), 'accepted')
    assert.equal(message({ handshakeTimeout: MAX }), 'accepted')
    assert.equal(message({ requestTimeout: MAX }), 'accepted')
    assert.equal(message({ requestTimeout: Infinity }), 'accepted')
    const ms = `a number of ms from 0 to ${MAX}`
    assert.equal(message({ baseDelay: -1 }), invalid('baseDelay', ms, '-1'))
    assert.equal(message({ baseDelay: Infinity }), invalid('baseDelay', ms, 'Infinity'))
    assert.equal(message({ maxDelay: MAX + 1 }), invalid('maxDelay', ms, String(MAX + 1)))
    assert.equal(message({ handshakeTimeout: '5' }), invalid('handshakeTimeout', ms, '"5"'))
    assert.equal(message({ requestTimeout: MAX + 1 }), invalid('requestTimeout', `${ms} or Infinity`, String(MAX + 1)))
    assert.equal(message({ requestTimeout: Number.NaN }), invalid('requestTimeout', `${ms} or Infinity`, 'NaN'))
  })

  it('refuses a handshakeTimeout of 0 and a maxDelay below baseDelay, naming the bound', () => {
    assert.equal(message({ handshakeTimeout: 0 }), invalid('handshakeTimeout', 'a number of ms > 0', '0'))
    assert.equal(message({ baseDelay: 20, maxDelay: 10 }), invalid('maxDelay', 'a number >= baseDelay (20)', '10'))
    assert.equal(message({ baseDelay: 20, maxDelay: 20 }), 'accepted')
  })

  it('takes maxAttempts from 0 up, or Infinity', () => {
    for (const maxAttempts of [0, 1, Infinity]) assert.equal(message({ maxAttempts }), 'accepted', String(maxAttempts))
    for (const maxAttempts of [-1, 1.5, Number.NaN]) {
      assert.equal(message({ maxAttempts }), invalid('maxAttempts', 'an integer >= 0 or Infinity', String(maxAttempts)))
    }
  })

  it('takes counts from 1 up', () => {
    for (const name of ['maxUnacked', 'maxUnackedBytes']) {
      assert.equal(message({ [name]: 1 }), 'accepted', name)
      assert.equal(message({ [name]: 0 }), invalid(name, 'a positive integer', '0'))
      assert.equal(message({ [name]: 2.5 }), invalid(name, 'a positive integer', '2.5'))
    }
  })

  it('wants functions where it calls them, and shows what it got', () => {
    for (const name of ['WebSocket', 'shouldRetry', 'onRequest', 'random', 'now', 'setTimeout', 'clearTimeout']) {
      assert.equal(message({ [name]: 'yes' }), invalid(name, 'a function', '"yes"'), name)
      assert.equal(message({ [name]: 3 }), invalid(name, 'a function', '3'), name)
    }
    assert.equal(message({ maxUnacked: () => 1 }), invalid('maxUnacked', 'a positive integer', 'a function'))
  })

  it('checks messages: a value that is not a schema is named by its path', () => {
    assert.equal(message({ messages: { fromServer: 5 } }), invalid('messages.fromServer', 'a Standard Schema v1 schema', '5'))
    assert.notEqual(resolveClientOptions({ ...base, messages: {} } as Parameters<typeof resolveClientOptions>[0]).messages, undefined)
  })

  it('takes globalThis.WebSocket by default, and says how to fix its absence', () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket')
    try {
      Reflect.deleteProperty(globalThis, 'WebSocket')
      assert.throws(() => resolveClientOptions({}), (error: unknown) => error instanceof ReliableClientError &&
        error.code === ClientErrorCode.NO_WEBSOCKET &&
        error.message === 'No WebSocket implementation: globalThis.WebSocket is missing; pass the option WebSocket (on Node 20, WebSocket from the ws package)')
      Object.defineProperty(globalThis, 'WebSocket', { value: WebSocketImpl, configurable: true, writable: true })
      assert.equal(resolveClientOptions({}).WebSocket, WebSocketImpl)
    } finally {
      Reflect.deleteProperty(globalThis, 'WebSocket')
      if (saved !== undefined) Object.defineProperty(globalThis, 'WebSocket', saved)
    }
  })
})
