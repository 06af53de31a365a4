// resolveSessionBudget (lib/reliable/session-budget-options.ts): the defaults in numbers, the least
// byte limit at its edge, maxSessionBytes against maxTotalBytes, and the exact messages.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MESSAGE_OVERHEAD, SESSION_OVERHEAD } from '../../lib/reliable/session-budget.js'
import { SESSION_BUDGET_DEFAULTS, resolveSessionBudget } from '../../lib/reliable/session-budget-options.js'

function refuses (value: unknown, name: string, expected: string, received: string): void {
  assert.throws(() => resolveSessionBudget(value), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'FRWS_ERR_OPTION_INVALID')
    assert.equal(error.message, `Invalid option "${name}": expected ${expected}, received ${received}`)
    return true
  })
}

// 12 KiB record + 1 KiB per message + 1 byte: a session record and one message of a single byte.
const LEAST = 12 * 1024 + 1024 + 1

describe('resolveSessionBudget', () => {
  it('has the documented defaults, in numbers', () => {
    const expected = {
      maxTotalBytes: 268_435_456,
      maxSessionBytes: 2_097_152,
      maxSuspended: 10_000,
      maxSuspendedPerAddress: 100,
      unackedSessionTimeout: 10_000
    }
    assert.deepEqual(SESSION_BUDGET_DEFAULTS, expected)
    assert.deepEqual(resolveSessionBudget(undefined), expected)
    assert.deepEqual(resolveSessionBudget({}), expected)
    assert.equal(SESSION_OVERHEAD + MESSAGE_OVERHEAD + 1, LEAST)
  })

  it('takes every option at its least value', () => {
    assert.deepEqual(resolveSessionBudget({
      maxTotalBytes: LEAST, maxSessionBytes: LEAST, maxSuspended: 0, maxSuspendedPerAddress: 0, unackedSessionTimeout: 1
    }), { maxTotalBytes: LEAST, maxSessionBytes: LEAST, maxSuspended: 0, maxSuspendedPerAddress: 0, unackedSessionTimeout: 1 })
  })

  it('refuses each option below its least value, naming it', () => {
    refuses({ maxTotalBytes: LEAST - 1 }, 'sessionBudget.maxTotalBytes', `an integer >= ${LEAST}`, String(LEAST - 1))
    refuses({ maxSessionBytes: LEAST - 1 }, 'sessionBudget.maxSessionBytes', `an integer >= ${LEAST}`, String(LEAST - 1))
    refuses({ maxSuspended: -1 }, 'sessionBudget.maxSuspended', 'an integer >= 0', '-1')
    refuses({ maxSuspendedPerAddress: -1 }, 'sessionBudget.maxSuspendedPerAddress', 'an integer >= 0', '-1')
    refuses({ unackedSessionTimeout: 0 }, 'sessionBudget.unackedSessionTimeout', 'an integer >= 1', '0')
  })

  it('refuses a value that is not an object, and an unknown key listing the known ones', () => {
    refuses(5, 'sessionBudget', 'an object', '5')
    refuses({ maxSesionBytes: 1 }, 'sessionBudget.maxSesionBytes',
      'one of the known options (maxTotalBytes, maxSessionBytes, maxSuspended, maxSuspendedPerAddress, unackedSessionTimeout)', '1')
  })

  it('takes maxSessionBytes equal to maxTotalBytes and refuses one byte more', () => {
    assert.equal(resolveSessionBudget({ maxTotalBytes: 100_000, maxSessionBytes: 100_000 }).maxSessionBytes, 100_000)
    refuses({ maxTotalBytes: 100_000, maxSessionBytes: 100_001 }, 'sessionBudget.maxSessionBytes',
      'an integer at most sessionBudget.maxTotalBytes (100000)', '100001')
    // The default maxSessionBytes (2 MiB) against a smaller maxTotalBytes.
    refuses({ maxTotalBytes: 1_000_000 }, 'sessionBudget.maxSessionBytes',
      'an integer at most sessionBudget.maxTotalBytes (1000000)', '2097152')
  })
})
