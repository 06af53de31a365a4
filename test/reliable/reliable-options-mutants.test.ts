// resolveReliable (lib/reliable/reliable-options.ts): every default, every lower bound at its
// edge, the ackEvery/maxUnacked relation and the exact FRWS_ERR_OPTION_INVALID messages.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULT_MAX_REQUESTS_IN_FLIGHT, resolveReliable } from '../../lib/reliable/reliable-options.js'

/** The error `resolveReliable(value)` must throw, message in full. */
function refuses (value: unknown, name: string, expected: string, received: string): void {
  assert.throws(() => resolveReliable(value), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'FRWS_ERR_OPTION_INVALID')
    assert.equal(error.message, `Invalid option "${name}": expected ${expected}, received ${received}`)
    return true
  })
}

const DEFAULTS = {
  sessionTimeout: 120_000,
  maxUnacked: 4096,
  maxUnackedBytes: 1_048_576,
  ackInterval: 20,
  ackEvery: 64,
  requestTimeout: 10_000,
  maxRequestsInFlight: 1024,
  principal: undefined
}

describe('resolveReliable', () => {
  it('is plain mode (undefined) for undefined and false', () => {
    assert.equal(resolveReliable(undefined), undefined)
    assert.equal(resolveReliable(false), undefined)
  })

  it('gives the documented defaults for true and for {}', () => {
    assert.deepEqual(resolveReliable(true), DEFAULTS)
    assert.deepEqual(resolveReliable({}), DEFAULTS)
    assert.equal(DEFAULT_MAX_REQUESTS_IN_FLIGHT, 1024)
  })

  it('takes every known option, each at its least value', () => {
    const principal = (): string => 'p'
    assert.deepEqual(resolveReliable({
      sessionTimeout: 1, maxUnacked: 2, maxUnackedBytes: 1, ackInterval: 0, ackEvery: 1, requestTimeout: 1, maxRequestsInFlight: 1, principal
    }), { sessionTimeout: 1, maxUnacked: 2, maxUnackedBytes: 1, ackInterval: 0, ackEvery: 1, requestTimeout: 1, maxRequestsInFlight: 1, principal })
  })

  it('refuses a value that is neither a boolean nor an object, naming "reliable"', () => {
    refuses('yes', 'reliable', 'an object', '"yes"')
    refuses(null, 'reliable', 'an object', 'null')
  })

  it('refuses an unknown key, naming it and listing the known ones', () => {
    refuses({ sesionTimeout: 5 }, 'reliable.sesionTimeout',
      'one of the known options (sessionTimeout, maxUnacked, maxUnackedBytes, ackInterval, ackEvery, requestTimeout, maxRequestsInFlight, principal)', '5')
  })

  it('refuses a principal that is not a function', () => {
    refuses({ principal: 'alice' }, 'reliable.principal', 'a function (request) => string | null', '"alice"')
    refuses({ principal: null }, 'reliable.principal', 'a function (request) => string | null', 'null')
  })

  const belowLeast: Array<[string, number, number]> = [
    ['sessionTimeout', 0, 1],
    ['maxUnacked', 0, 1],
    ['maxUnackedBytes', 0, 1],
    ['ackInterval', -1, 0],
    ['ackEvery', 0, 1],
    ['requestTimeout', 0, 1],
    ['maxRequestsInFlight', 0, 1]
  ]
  for (const [key, value, least] of belowLeast) {
    it(`refuses ${key} ${value}, below its least value ${least}, and a fraction`, () => {
      refuses({ [key]: value }, `reliable.${key}`, `an integer >= ${least}`, String(value))
      refuses({ [key]: 2.5 }, `reliable.${key}`, `an integer >= ${least}`, '2.5')
    })
  }

  it('refuses ackEvery equal to maxUnacked, and takes one below it', () => {
    refuses({ maxUnacked: 8, ackEvery: 8 }, 'reliable.ackEvery', 'an integer below reliable.maxUnacked (8)', '8')
    refuses({ maxUnacked: 8, ackEvery: 9 }, 'reliable.ackEvery', 'an integer below reliable.maxUnacked (8)', '9')
    assert.equal(resolveReliable({ maxUnacked: 8, ackEvery: 7 })?.ackEvery, 7)
    // The default ackEvery (64) against a small maxUnacked.
    refuses({ maxUnacked: 64 }, 'reliable.ackEvery', 'an integer below reliable.maxUnacked (64)', '64')
  })
})
