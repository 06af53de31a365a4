// Unit tests of the budget's parts: the byte accounting, the charge of a session, the log tag, the
// order in which suspended sessions are shed, and the store sharing frames with the outbound log.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MESSAGE_OVERHEAD, SESSION_OVERHEAD, SessionBudget, SessionShare, frameHeldBytes, sessionBytes } from '../../lib/reliable/session-budget.js'
import { SESSION_BUDGET_DEFAULTS } from '../../lib/reliable/session-budget-options.js'
import { SuspendedSessions } from '../../lib/reliable/suspended-sessions.js'
import { MemorySessionStore } from '../../lib/store/memory-session-store.js'

describe('SessionBudget', () => {
  it('charges and releases bytes against maxTotalBytes; fits() says whether more bytes would fit', () => {
    const budget = new SessionBudget({ ...SESSION_BUDGET_DEFAULTS, maxTotalBytes: 1000 })
    assert.equal(budget.usedBytes, 0)
    assert.ok(budget.fits(1000))
    assert.ok(!budget.fits(1001))
    budget.charge(600)
    assert.equal(budget.usedBytes, 600)
    assert.ok(budget.fits(400))
    assert.ok(!budget.fits(401))
    budget.release(200)
    assert.equal(budget.usedBytes, 400)
    assert.ok(budget.fits(600))
  })

  it('carries the per-session limits it was built with', () => {
    const budget = new SessionBudget(SESSION_BUDGET_DEFAULTS)
    assert.equal(budget.maxSessionBytes, 2 * 1024 * 1024)
    assert.equal(budget.maxSuspendedPerAddress, 100)
    assert.equal(budget.unackedSessionTimeout, 10_000)
  })
})

describe('sessionBytes', () => {
  it('is the record plus each message frame and its overhead', () => {
    assert.equal(sessionBytes(0, 0), SESSION_OVERHEAD)
    assert.equal(sessionBytes(3, 30), SESSION_OVERHEAD + 30 + 3 * MESSAGE_OVERHEAD)
  })
})

describe('SessionShare', () => {
  it('keeps the budget in step with what the session holds, and gives everything back for good on close', () => {
    const budget = new SessionBudget(SESSION_BUDGET_DEFAULTS)
    const share = new SessionShare(budget)
    share.sync({ count: 0, bytes: 0 })
    assert.equal(budget.usedBytes, SESSION_OVERHEAD)
    share.sync({ count: 2, bytes: 50 })
    assert.equal(share.bytes, sessionBytes(2, 50))
    assert.equal(budget.usedBytes, sessionBytes(2, 50))
    share.sync({ count: 1, bytes: 20 })
    assert.equal(budget.usedBytes, sessionBytes(1, 20))
    share.close()
    assert.equal(budget.usedBytes, 0)
    share.sync({ count: 5, bytes: 500 })
    assert.equal(budget.usedBytes, 0, 'a closed share never charges again')
    assert.equal(share.bytes, 0)
  })
})

describe('frameHeldBytes', () => {
  it('counts bytes and ASCII text at their length, other text at two bytes per UTF-16 unit or its UTF-8 size', () => {
    assert.equal(frameHeldBytes(new Uint8Array(7)), 7)
    assert.equal(frameHeldBytes('D1:abc'), 6)
    assert.equal(frameHeldBytes('D1:ab€'), 12, 'UTF-16: 6 units')
    assert.equal(frameHeldBytes('€€€'), 9, 'UTF-8 (9) above UTF-16 (6)')
  })
})

describe('SuspendedSessions shedding order', () => {
  const session = (name: string): { name: string, expire: () => void } => ({ name, expire () {} })

  it('gives the oldest suspended session, overall and per key, and counts per key', () => {
    const suspended = new SuspendedSessions<ReturnType<typeof session>>()
    const far = Date.now() + 60_000
    const [a, b, c] = [session('a'), session('b'), session('c')]
    suspended.add(a, far, 'address:1')
    suspended.add(b, far, 'address:2')
    suspended.add(c, far, 'address:1')
    assert.equal(suspended.oldest(), a)
    assert.equal(suspended.oldest('address:1'), a)
    assert.equal(suspended.oldest('address:2'), b)
    assert.equal(suspended.countOf('address:1'), 2)
    suspended.remove(a)
    assert.equal(suspended.oldest(), b)
    assert.equal(suspended.oldest('address:1'), c)
    assert.equal(suspended.countOf('address:1'), 1)
    // Suspended again later: it is now the newest.
    suspended.add(b, far, 'address:2')
    assert.equal(suspended.oldest(), c)
    assert.equal(suspended.oldest('address:3'), undefined)
    suspended.clear()
    assert.equal(suspended.size, 0)
    assert.equal(suspended.countOf('address:1'), 0)
  })
})

describe('MemorySessionStore shares frames', () => {
  it('keeps the very frame objects it was given, with no copy of their bytes', async () => {
    const store = new MemorySessionStore()
    const state = await store.create({ route: '/r', tokenHash: 'h', principal: null, ownerId: 'o1' })
    const frame = Buffer.from('D1:bytes')
    await store.update(state.sessionId, 'o1', { append: [{ seq: 1, frame }, { seq: 2, frame: 'D2:text' }] })
    const stored = await store.get(state.sessionId)
    assert.deepEqual(stored?.messages.map((m) => m.seq), [1, 2])
    assert.equal(stored?.messages[0].frame, frame, 'the same Buffer object')
    await store.update(state.sessionId, 'o1', { serverAcked: 1 })
    const after = await store.get(state.sessionId)
    assert.deepEqual(after?.messages, [{ seq: 2, frame: 'D2:text' }])
    await store.close()
  })
})
