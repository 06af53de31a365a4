import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FakeClock, MAX_FIRES_PER_ADVANCE } from './helpers/fake-clock.js'

test('FakeClock.advance throws on a runaway timer instead of hanging the suite', () => {
  const clock = new FakeClock()
  let fires = 0
  const rearm = (): void => { fires++; clock.setTimeout(rearm, 0) }
  clock.setTimeout(rearm, 10)
  assert.throws(() => clock.advance(100), /runaway timer/)
  assert.equal(fires, MAX_FIRES_PER_ADVANCE)
})

test('FakeClock.advance runs a busy but finite schedule in time order', () => {
  const clock = new FakeClock()
  const seen: number[] = []
  clock.setInterval(() => seen.push(clock.now()), 10)
  clock.at(25, () => seen.push(-clock.now()))
  clock.advance(40)
  assert.deepEqual(seen, [10, 20, -25, 30, 40])
  assert.equal(clock.now(), 40)
})
