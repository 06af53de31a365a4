// The client heartbeat's wake() and late-timer rule at their edges, where mutants of
// lib/client/liveness.ts survived the rest of the suite (docs/TESTING.md, "Mutation testing").
// Fake clock (test/helpers/fake-clock.ts): pingInterval 1000 ms, pongTimeout 500 ms.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { LATE_TIMER_THRESHOLD, LivenessMonitor } from '../lib/client/liveness.js'
import type { ClockTimer } from '../lib/heartbeat/clock.js'
import { FakeClock } from './helpers/fake-clock.js'

function monitor (clock: FakeClock): { liveness: LivenessMonitor, pings: string[], dead: () => boolean } {
  const pings: string[] = []
  let isDead = false
  const liveness = new LivenessMonitor({
    pingInterval: 1000,
    pongTimeout: 500,
    sendPing: (token) => pings.push(token),
    onDead: () => { isDead = true },
    now: () => clock.now(),
    setTimer: (callback, delay) => clock.setTimeout(callback, delay),
    // Like clearTimeout, clearing nothing is allowed.
    clearTimer: (handle) => { (handle as ClockTimer | undefined)?.clear() }
  })
  return { liveness, pings, dead: () => isDead }
}

describe('client heartbeat: wake()', () => {
  it('does nothing before start() and after stop()', () => {
    const clock = new FakeClock()
    const { liveness, pings, dead } = monitor(clock)
    liveness.wake()
    assert.deepEqual(pings, [], 'not started')
    assert.equal(clock.timeouts.size, 0)
    liveness.start()
    clock.advance(1000)
    assert.deepEqual(pings, ['1'])
    liveness.stop()
    clock.stall(10_000)
    liveness.wake()
    assert.deepEqual(pings, ['1'], 'stopped')
    assert.equal(dead(), false)
    assert.equal(clock.timeouts.size, 0)
  })

  it('leaves an outstanding ping alone while its pongTimeout runs, up to and at the deadline', () => {
    const clock = new FakeClock()
    const { liveness, pings, dead } = monitor(clock)
    liveness.start()
    clock.advance(1000)
    assert.deepEqual(pings, ['1'])
    clock.advance(100)
    liveness.wake()
    assert.deepEqual(pings, ['1'], 'no second ping while the first waits for its pong')
    assert.equal(dead(), false)
    // The pong timer is held back until exactly the deadline; wake leaves the judgement to it.
    clock.stall(400)
    liveness.wake()
    assert.equal(dead(), false)
    assert.deepEqual(pings, ['1'])
    clock.advance(0)
    assert.equal(dead(), true, 'the timer, due now, judges the silence')
  })
})

describe('client heartbeat: late pong timers', () => {
  it('declares death when the pong timer fires exactly LATE_TIMER_THRESHOLD ms late, and grants a fresh ping 1 ms later', () => {
    const onTime = new FakeClock()
    const first = monitor(onTime)
    first.liveness.start()
    onTime.advance(1000)
    onTime.stall(500 + LATE_TIMER_THRESHOLD)
    onTime.advance(0)
    assert.equal(first.dead(), true)
    assert.deepEqual(first.pings, ['1'])

    const late = new FakeClock()
    const second = monitor(late)
    second.liveness.start()
    late.advance(1000)
    late.stall(500 + LATE_TIMER_THRESHOLD + 1)
    late.advance(0)
    assert.equal(second.dead(), false)
    assert.deepEqual(second.pings, ['1', '2'])
    second.liveness.stop()
  })
})
