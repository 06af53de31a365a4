// SuspendedSessions (lib/reliable/suspended-sessions.ts): the one expiry timer, re-suspending a
// session, and the per-key groups. Mock timers (Date and setTimeout together) make each expiry
// exact; the last test runs on real time.
import { afterEach, beforeEach, describe, it, mock } from 'node:test'
import assert from 'node:assert/strict'
import { SuspendedSessions } from '../../lib/reliable/suspended-sessions.js'

interface Named { name: string, expire: () => void }

/** Sessions that write their name into `expired` when they expire. */
function sessions (expired: string[]): (name: string) => Named {
  return (name) => ({ name, expire: () => { expired.push(name) } })
}

describe('SuspendedSessions on a mock clock', () => {
  const START = 1_000_000
  beforeEach(() => { mock.timers.enable({ apis: ['setTimeout', 'Date'], now: START }) })
  afterEach(() => { mock.timers.reset() })

  it('expires each session at its own time, not a millisecond before, whatever the order of adding', () => {
    const expired: string[] = []
    const session = sessions(expired)
    const suspended = new SuspendedSessions<Named>()
    const [late, early, middle] = [session('late'), session('early'), session('middle')]
    suspended.add(late, START + 300)
    suspended.add(early, START + 100)
    suspended.add(middle, START + 200)
    mock.timers.tick(99)
    assert.deepEqual(expired, [])
    mock.timers.tick(1)
    assert.deepEqual(expired, ['early'])
    assert.equal(suspended.size, 2)
    mock.timers.tick(99)
    assert.deepEqual(expired, ['early'])
    mock.timers.tick(1)
    assert.deepEqual(expired, ['early', 'middle'])
    mock.timers.tick(100)
    assert.deepEqual(expired, ['early', 'middle', 'late'])
    assert.equal(suspended.size, 0)
  })

  it('re-arms for the earliest of the sessions left, wherever it sits in the order of adding', () => {
    const expired: string[] = []
    const session = sessions(expired)
    const suspended = new SuspendedSessions<Named>()
    // Added: first (due first), soon, far. After `first`, the timer must go to `soon`, not to the last one seen.
    suspended.add(session('first'), START + 10)
    suspended.add(session('soon'), START + 50)
    suspended.add(session('far'), START + 60_000)
    mock.timers.tick(10)
    assert.deepEqual(expired, ['first'])
    mock.timers.tick(40)
    assert.deepEqual(expired, ['first', 'soon'])
    assert.equal(suspended.size, 1)
  })

  it('expires together the sessions due at the same time, and only them', () => {
    const expired: string[] = []
    const session = sessions(expired)
    const suspended = new SuspendedSessions<Named>()
    suspended.add(session('a'), START + 20)
    suspended.add(session('b'), START + 20)
    suspended.add(session('c'), START + 21)
    mock.timers.tick(20)
    assert.deepEqual(expired, ['a', 'b'])
    assert.equal(suspended.size, 1)
    assert.equal(suspended.oldest()?.name, 'c')
  })

  it('a session already removed when its group expires is not expired, and is gone before expire() runs', () => {
    const expired: string[] = []
    const suspended = new SuspendedSessions<Named>()
    const seenSizes: number[] = []
    const a: Named = { name: 'a', expire: () => { expired.push('a'); seenSizes.push(suspended.size) } }
    const b: Named = { name: 'b', expire: () => { expired.push('b'); seenSizes.push(suspended.size) } }
    suspended.add(a, START + 5, 'k')
    suspended.add(b, START + 5, 'k')
    mock.timers.tick(5)
    assert.deepEqual(expired, ['a', 'b'])
    assert.deepEqual(seenSizes, [0, 0], 'both were removed before either expire() ran')
    assert.equal(suspended.countOf('k'), 0)
  })

  it('a session added again takes its new expiry and key; the old ones are forgotten', () => {
    const expired: string[] = []
    const session = sessions(expired)
    const suspended = new SuspendedSessions<Named>()
    const a = session('a')
    suspended.add(a, START + 100, 'address:1')
    suspended.add(a, START + 500, 'address:2')
    assert.equal(suspended.size, 1)
    assert.equal(suspended.countOf('address:1'), 0)
    assert.equal(suspended.oldest('address:1'), undefined)
    assert.equal(suspended.countOf('address:2'), 1)
    mock.timers.tick(499)
    assert.deepEqual(expired, [], 'not at its first expiry')
    mock.timers.tick(1)
    assert.deepEqual(expired, ['a'])
  })

  it('a later session does not push back the timer of an earlier one', () => {
    const expired: string[] = []
    const session = sessions(expired)
    const suspended = new SuspendedSessions<Named>()
    suspended.add(session('early'), START + 30)
    suspended.add(session('later'), START + 90)
    mock.timers.tick(30)
    assert.deepEqual(expired, ['early'])
    mock.timers.tick(60)
    assert.deepEqual(expired, ['early', 'later'])
  })

  it('a session added with the same expiry as the armed timer still expires then', () => {
    const expired: string[] = []
    const session = sessions(expired)
    const suspended = new SuspendedSessions<Named>()
    suspended.add(session('a'), START + 40)
    suspended.add(session('b'), START + 40)
    mock.timers.tick(40)
    assert.deepEqual(expired, ['a', 'b'])
  })

  it('removing one session leaves the others to expire on time; removing the last stops the timer', () => {
    const expired: string[] = []
    const session = sessions(expired)
    const suspended = new SuspendedSessions<Named>()
    const [a, b] = [session('a'), session('b')]
    suspended.add(a, START + 10, 'k')
    suspended.add(b, START + 20, 'k')
    suspended.remove(a)
    assert.equal(suspended.countOf('k'), 1)
    assert.equal(suspended.oldest('k'), b)
    mock.timers.tick(20)
    assert.deepEqual(expired, ['b'])

    const c = session('c')
    suspended.add(c, START + 40, 'k')
    suspended.remove(c)
    suspended.remove(c)
    assert.equal(suspended.size, 0)
    // A session added afterwards, due later, is armed for its own time.
    suspended.add(session('d'), START + 80, 'k')
    mock.timers.tick(59)
    assert.deepEqual(expired, ['b'])
    mock.timers.tick(1)
    assert.deepEqual(expired, ['b', 'd'])
  })

  it('removing a session it does not hold changes nothing', () => {
    const expired: string[] = []
    const session = sessions(expired)
    const suspended = new SuspendedSessions<Named>()
    const a = session('a')
    suspended.add(a, START + 10, '')
    suspended.remove(session('stranger'))
    assert.equal(suspended.size, 1)
    assert.equal(suspended.countOf(''), 1)
    mock.timers.tick(10)
    assert.deepEqual(expired, ['a'])
  })

  it('groups under the empty key by default', () => {
    const suspended = new SuspendedSessions<Named>()
    const a = sessions([])('a')
    suspended.add(a, START + 10)
    assert.equal(suspended.countOf(''), 1)
    assert.equal(suspended.oldest(''), a)
  })

  it('keeps a group while it has sessions, and the oldest of a group is its first added still there', () => {
    const session = sessions([])
    const suspended = new SuspendedSessions<Named>()
    const [a, b, c] = [session('a'), session('b'), session('c')]
    suspended.add(a, START + 1000, 'k')
    suspended.add(b, START + 1000, 'k')
    suspended.add(c, START + 1000, 'other')
    suspended.remove(a)
    assert.equal(suspended.countOf('k'), 1)
    assert.equal(suspended.oldest('k'), b)
    suspended.add(a, START + 1000, 'k')
    assert.equal(suspended.countOf('k'), 2)
    assert.equal(suspended.oldest('k'), b)
    assert.equal(suspended.oldest(), b, 'a, added again, is now the newest overall')
  })

  it('clear() forgets every session and expires none of them later', () => {
    const expired: string[] = []
    const session = sessions(expired)
    const suspended = new SuspendedSessions<Named>()
    suspended.add(session('a'), START + 10, 'k')
    suspended.add(session('b'), START + 20, 'j')
    suspended.clear()
    assert.equal(suspended.size, 0)
    assert.equal(suspended.countOf('k'), 0)
    assert.equal(suspended.oldest(), undefined)
    assert.equal(suspended.oldest('j'), undefined)
    // A session added after the clear proves time passed beyond both old expiries.
    suspended.add(session('c'), START + 30, 'k')
    assert.equal(suspended.countOf('k'), 1)
    mock.timers.tick(30)
    assert.deepEqual(expired, ['c'])
  })
})

describe('SuspendedSessions on real time', () => {
  it('expires a session once its time has come, and not before', async () => {
    const suspended = new SuspendedSessions<Named>()
    const added = Date.now()
    // The expiry timer is unref'd: a ref'd one keeps the test process alive meanwhile.
    const keepAlive = setInterval(() => {}, 1000)
    const expiredAt = await new Promise<number>((resolve) => {
      suspended.add({ name: 'a', expire: () => { resolve(Date.now()) } }, added + 30)
    })
    clearInterval(keepAlive)
    assert.ok(expiredAt >= added + 30, `expired ${expiredAt - added} ms after adding, before its 30 ms`)
    assert.equal(suspended.size, 0)
  })

  it('arms no timer once nothing is left to expire (no TimeoutOverflowWarning, no 1 ms loop)', async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error): void => { warnings.push(warning.name) }
    process.on('warning', onWarning)
    try {
      const suspended = new SuspendedSessions<Named>()
      const keepAlive = setInterval(() => {}, 1000)
      await new Promise<void>((resolve) => {
        suspended.add({ name: 'a', expire: () => { resolve() } }, Date.now() + 5)
      })
      clearInterval(keepAlive)
      // A timer armed for Infinity is set to 1 ms with a warning emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(warnings, [])
    } finally {
      process.off('warning', onWarning)
    }
  })
})
