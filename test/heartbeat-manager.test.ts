import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { setInterval as every, setTimeout as delay } from 'node:timers/promises'
import { HeartbeatManager, type HeartbeatPeer, type HeartbeatSlot } from '../lib/heartbeat/heartbeat-manager.js'
import {
  HEARTBEAT_DEFAULTS, checkHeartbeatSettings, heartbeatDetectionBound, heartbeatTickInterval, type HeartbeatSettings
} from '../lib/heartbeat/heartbeat-settings.js'
import { FakeClock } from './helpers/fake-clock.js'

/** A peer that records what the manager asked of it. */
class TestPeer implements HeartbeatPeer {
  readonly pings: number[] = []
  pongs = 0
  terminatedAt: number | undefined
  idleClosedAt: number | undefined
  slot!: HeartbeatSlot

  /** @param replyAfter - ms after each ping at which the peer pongs; `undefined` never answers */
  constructor (readonly clock: FakeClock, readonly replyAfter?: number) {}

  sendPing (): void {
    this.pings.push(this.clock.time)
    if (this.replyAfter === 0) {
      this.pongs++
      this.slot.pong()
    } else if (this.replyAfter !== undefined) {
      this.clock.at(this.clock.time + this.replyAfter, () => {
        this.pongs++
        this.slot.pong()
      })
    }
  }

  terminate (cause: 'timeout'): void {
    assert.equal(cause, 'timeout')
    this.terminatedAt = this.clock.time
  }

  closeIdle (): void {
    this.idleClosedAt = this.clock.time
  }
}

function watch (manager: HeartbeatManager, clock: FakeClock, replyAfter?: number, settings?: HeartbeatSettings): TestPeer {
  const peer = new TestPeer(clock, replyAfter)
  peer.slot = manager.add(peer, settings)
  return peer
}

const FAST: HeartbeatSettings = { pingInterval: 1000, pongTimeout: 500, idleTimeout: 0 }
const TICK = 50

describe('HeartbeatManager', { timeout: 20_000 }, () => {
  test('an idle peer is pinged no later than pingInterval after its last frame, and at most one tick earlier', () => {
    for (const offset of [0, 1, 25, 49]) {
      const clock = new FakeClock()
      const manager = new HeartbeatManager({ defaults: FAST, clock })
      const peer = watch(manager, clock)
      const lastFrame = 500 + offset
      clock.at(lastFrame, () => peer.slot.touch())
      clock.advance(lastFrame + FAST.pingInterval - TICK - 1)
      assert.deepEqual(peer.pings, [], `no ping before pingInterval - tick (offset ${offset})`)
      clock.advance(TICK + 1)
      assert.equal(peer.pings.length, 1, `pinged by pingInterval (offset ${offset})`)
      const silence = peer.pings[0] - lastFrame
      assert.ok(silence <= FAST.pingInterval && silence >= FAST.pingInterval - TICK, `silence ${silence} ms`)
      manager.close()
    }
  })

  test('a peer that answers every ping stays connected across many intervals', () => {
    const clock = new FakeClock()
    const manager = new HeartbeatManager({ defaults: FAST, clock })
    const peer = watch(manager, clock, 30)
    clock.advance(20 * FAST.pingInterval + 100)
    assert.equal(peer.terminatedAt, undefined)
    assert.equal(peer.pings.length, 20)
    assert.equal(peer.slot.lastRtt, 30)
    assert.equal(manager.stats().pongsReceived, 20)
    assert.equal(manager.stats().connections, 1)
    manager.close()
  })

  test('a silent peer is terminated within pingInterval + pongTimeout (+ one tick when the tick does not divide pingInterval)', () => {
    const cases: HeartbeatSettings[] = [
      FAST, { pingInterval: 1000, pongTimeout: 735, idleTimeout: 0 }, { pingInterval: 1234, pongTimeout: 500, idleTimeout: 0 }
    ]
    assert.deepEqual(cases.map(heartbeatDetectionBound), [1500, 1735, 1784])
    for (const settings of cases) {
      for (const offset of [0, 1, 17, 49]) {
        const clock = new FakeClock()
        const manager = new HeartbeatManager({ defaults: settings, clock })
        const peer = watch(manager, clock)
        const lastFrame = 2000 + offset
        for (let t = 100; t < lastFrame; t += 100) clock.at(t, () => peer.slot.touch())
        clock.at(lastFrame, () => peer.slot.touch())
        clock.advance(lastFrame + 5000)
        assert.ok(peer.terminatedAt !== undefined, 'terminated')
        const detection = peer.terminatedAt - lastFrame
        const label = `${settings.pingInterval} / ${settings.pongTimeout}, offset ${offset}: detected after ${detection} ms`
        assert.ok(detection <= heartbeatDetectionBound(settings), label)
        assert.equal(peer.pings.length, 1)
        const tick = heartbeatTickInterval(settings)
        assert.ok(peer.pings[0] - lastFrame <= settings.pingInterval + (settings.pingInterval % tick === 0 ? 0 : tick), label)
        assert.ok(peer.terminatedAt - peer.pings[0] >= settings.pongTimeout, `the peer had the full pongTimeout: ${label}`)
        assert.equal(manager.stats().connections, 0)
        manager.close()
      }
    }
  })

  test('a frame other than a pong after the ping also proves the peer alive', () => {
    const clock = new FakeClock()
    const manager = new HeartbeatManager({ defaults: FAST, clock })
    const peer = watch(manager, clock)
    clock.advance(FAST.pingInterval)
    assert.equal(peer.pings.length, 1)
    clock.at(FAST.pingInterval + 400, () => peer.slot.touchMessage())
    clock.advance(FAST.pongTimeout + TICK)
    assert.equal(peer.terminatedAt, undefined)
    assert.equal(manager.stats().pongsReceived, 0)
    manager.close()
  })

  test('a busy peer that sends a frame every tick is never pinged and costs about one visit per pingInterval', () => {
    const clock = new FakeClock()
    const manager = new HeartbeatManager({ defaults: FAST, clock })
    const peer = watch(manager, clock)
    for (let t = 10; t <= 10_000; t += TICK) clock.at(t, () => peer.slot.touch())
    clock.advance(10_000)
    assert.deepEqual(peer.pings, [])
    assert.ok(manager.stats().visits <= 11, `visits: ${manager.stats().visits}`)
    manager.close()
  })

  test('a busy peer is not pinged when its frames are read while the timer is late and the late fire jumps several ticks', () => {
    // Tick 100 ms: a ping needs at least 900 ms of silence.
    const settings: HeartbeatSettings = { pingInterval: 1000, pongTimeout: 1000, idleTimeout: 0 }
    // Every fourth interval of the shared timer is 600 ms late, so its fire catches up six or seven ticks at once.
    const clock = new FakeClock((fire) => fire % 4 === 3 ? 600 : 0)
    const manager = new HeartbeatManager({ defaults: settings, clock })
    const busy = watch(manager, clock, 0)
    const silent = watch(manager, clock)
    // 700 ms apart, so frames keep landing while the timer is late, before the jump.
    for (let t = 100; t <= 30_000; t += 700) clock.at(t, () => busy.slot.touchMessage())
    clock.advance(30_000)
    assert.deepEqual(busy.pings, [])
    const stats = manager.stats()
    assert.ok(stats.ticks < 150, `the timer was late: ${stats.ticks} fires in 30 s (300 on time)`)
    assert.ok(silent.terminatedAt !== undefined, 'a silent peer is still pinged and terminated')
    assert.ok(silent.terminatedAt - silent.pings[0] >= settings.pongTimeout)
    manager.close()
  })

  test('idleTimeout closes a peer without application messages, and pongs and other frames do not postpone it', () => {
    const clock = new FakeClock()
    const settings: HeartbeatSettings = { pingInterval: 1000, pongTimeout: 500, idleTimeout: 3000 }
    const manager = new HeartbeatManager({ defaults: settings, clock })
    const quiet = watch(manager, clock, 10)
    const chatty = watch(manager, clock, 10)
    const lastMessage = 1234
    clock.at(lastMessage, () => quiet.slot.touchMessage())
    for (let t = 200; t <= 10_000; t += 200) {
      clock.at(t, () => quiet.slot.touch())
      if (t % 600 === 0) clock.at(t, () => chatty.slot.touchMessage())
    }
    clock.advance(10_000)
    assert.ok(quiet.idleClosedAt !== undefined, 'closed as idle')
    const idleFor = quiet.idleClosedAt - lastMessage
    assert.ok(idleFor >= settings.idleTimeout && idleFor <= settings.idleTimeout + TICK, `closed after ${idleFor} ms`)
    assert.equal(quiet.terminatedAt, undefined)
    assert.equal(chatty.idleClosedAt, undefined)
    const stats = manager.stats()
    assert.equal(stats.idleClosed, 1)
    assert.equal(stats.connections, 1)
    manager.close()
  })

  test('an idle timeout far longer than the wheel span still closes on time', () => {
    const clock = new FakeClock()
    // Tick 50 ms: 12,000 ticks of idle timeout, three times the largest wheel.
    const settings: HeartbeatSettings = { pingInterval: 1000, pongTimeout: 500, idleTimeout: 600_000 }
    const manager = new HeartbeatManager({ defaults: settings, clock })
    const peer = watch(manager, clock, 10)
    const lastMessage = 777
    clock.at(lastMessage, () => peer.slot.touchMessage())
    clock.advance(lastMessage + settings.idleTimeout - 1)
    assert.equal(peer.idleClosedAt, undefined)
    clock.advance(TICK + 1)
    assert.ok(peer.idleClosedAt !== undefined, 'closed as idle')
    assert.ok(peer.idleClosedAt - lastMessage <= settings.idleTimeout + TICK, `closed after ${peer.idleClosedAt - lastMessage} ms`)
    assert.equal(peer.terminatedAt, undefined)
    assert.ok(peer.pings.length >= 590, `the pongs kept it alive: ${peer.pings.length} pings`)
    manager.close()
  })

  test('stats add up with what the peers saw', () => {
    const clock = new FakeClock()
    const manager = new HeartbeatManager({ defaults: FAST, clock })
    const idle: HeartbeatSettings = { ...FAST, idleTimeout: 2000 }
    const peers = [
      watch(manager, clock, 20), watch(manager, clock, 20), watch(manager, clock, 0),
      watch(manager, clock), watch(manager, clock), watch(manager, clock, 20, idle)
    ]
    clock.at(700, () => peers[0].slot.pong())
    clock.advance(5100)
    const stats = manager.stats()
    const sum = (pick: (peer: TestPeer) => number): number => peers.reduce((total, peer) => total + pick(peer), 0)
    assert.equal(stats.pingsSent, sum((peer) => peer.pings.length))
    assert.equal(stats.pongsReceived, sum((peer) => peer.pongs))
    assert.equal(stats.terminated, 2)
    assert.equal(stats.terminated, sum((peer) => peer.terminatedAt === undefined ? 0 : 1))
    assert.equal(stats.idleClosed, 1)
    assert.equal(stats.connections, 3)
    assert.equal(stats.pingsSent, stats.pongsReceived + stats.terminated)
    manager.close()
  })

  test('remove() stops all work for that peer and leaves it unwatched', () => {
    const clock = new FakeClock()
    const manager = new HeartbeatManager({ defaults: FAST, clock })
    const kept = watch(manager, clock, 10)
    const removed = watch(manager, clock)
    clock.advance(500)
    manager.remove(removed.slot)
    manager.remove(removed.slot)
    assert.equal(removed.slot.isWatched, false)
    assert.equal(manager.stats().connections, 1)
    clock.advance(10_000)
    assert.deepEqual(removed.pings, [])
    assert.equal(removed.terminatedAt, undefined)
    assert.equal(kept.pings.length, 10)
    assert.equal(manager.stats().visits, 10, 'only the kept peer was visited')
    manager.close()
  })

  test('a peer removed from inside its own terminate() call is counted once', () => {
    const clock = new FakeClock()
    const manager = new HeartbeatManager({ defaults: FAST, clock })
    const peer = watch(manager, clock)
    peer.terminate = () => {
      manager.remove(peer.slot)
      peer.terminatedAt = clock.time
    }
    clock.advance(5000)
    assert.equal(peer.terminatedAt, 1500)
    assert.equal(manager.stats().terminated, 1)
    assert.equal(manager.stats().connections, 0)
    manager.close()
  })

  test('one shared timer serves all peers, stops with the last peer and on close()', () => {
    const clock = new FakeClock()
    const manager = new HeartbeatManager({ defaults: FAST, clock })
    assert.equal(clock.timers.size, 0)
    const peers = Array.from({ length: 1000 }, () => watch(manager, clock, 10))
    assert.equal(clock.timers.size, 1)
    clock.advance(3000)
    assert.equal(clock.timers.size, 1)
    for (const peer of peers) manager.remove(peer.slot)
    assert.equal(clock.timers.size, 0)
    const again = watch(manager, clock)
    assert.equal(clock.timers.size, 1)
    manager.close()
    assert.equal(clock.timers.size, 0)
    assert.equal(again.slot.isWatched, false)
    const late = watch(manager, clock)
    assert.equal(late.slot.isWatched, false)
    assert.equal(clock.timers.size, 0)
    clock.advance(10_000)
    assert.deepEqual(late.pings, [])
  })

  test('settings that turn pings and the idle timeout off watch nothing', () => {
    const clock = new FakeClock()
    const manager = new HeartbeatManager({ defaults: FAST, clock })
    const peer = watch(manager, clock, undefined, { pingInterval: 0, pongTimeout: 500, idleTimeout: 0 })
    peer.slot.touch()
    assert.equal(peer.slot.isWatched, false)
    assert.equal(clock.timers.size, 0)
    assert.equal(manager.stats().connections, 0)
    manager.close()
  })

  test('per-peer settings override the defaults, and a shorter interval shrinks the shared tick until the last peer leaves', () => {
    const clock = new FakeClock()
    const slow: HeartbeatSettings = { pingInterval: 25_000, pongTimeout: 10_000, idleTimeout: 0 }
    const quick: HeartbeatSettings = { pingInterval: 200, pongTimeout: 100, idleTimeout: 0 }
    const manager = new HeartbeatManager({ defaults: slow, clock })
    const steady = watch(manager, clock, 30)
    assert.equal(manager.stats().tickInterval, 1000)
    clock.advance(12_345)
    const fast = watch(manager, clock, undefined, quick)
    assert.equal(manager.stats().tickInterval, 10)
    clock.advance(1000)
    assert.ok(fast.terminatedAt !== undefined)
    assert.ok(fast.terminatedAt - 12_345 <= heartbeatDetectionBound(quick), `fast peer detected after ${fast.terminatedAt - 12_345} ms`)
    assert.equal(fast.pings.length, 1)
    clock.advance(60_000)
    // Restarting the timer for the finer tick may shift its phase by up to one new tick.
    assert.equal(steady.pings.length, 2)
    assert.ok(steady.pings[0] <= 25_000 + 10 && steady.pings[0] > 25_000 - 1000, `pinged at ${steady.pings[0]}`)
    assert.equal(steady.terminatedAt, undefined)
    assert.equal(manager.stats().tickInterval, 10)
    manager.remove(steady.slot)
    assert.equal(manager.stats().tickInterval, 1000)
    manager.close()
  })

  test('after a stalled event loop a silent peer is pinged before it is terminated', () => {
    const clock = new FakeClock()
    const manager = new HeartbeatManager({ defaults: FAST, clock })
    const peer = watch(manager, clock)
    clock.advance(100)
    clock.stall(10_000)
    clock.advance(1)
    assert.equal(peer.pings.length, 1)
    assert.equal(peer.terminatedAt, undefined)
    clock.advance(FAST.pongTimeout + TICK)
    assert.ok(peer.terminatedAt !== undefined)
    assert.ok(peer.terminatedAt - peer.pings[0] >= FAST.pongTimeout)
    manager.close()
  })

  test('a timer that fires early never shortens the pong window', () => {
    for (const offset of [0, 1]) {
      const clock = new FakeClock((fire) => (fire + offset) % 2 === 0 ? -4 : 4)
      // An odd number of ticks per pongTimeout: the ping and its deadline fall on fires of opposite jitter.
      const settings: HeartbeatSettings = { pingInterval: 1000, pongTimeout: 550, idleTimeout: 0 }
      const manager = new HeartbeatManager({ defaults: settings, clock })
      const peers = Array.from({ length: 5 }, (_, i) => {
        const peer = watch(manager, clock)
        clock.advance(7 * i + 3)
        return peer
      })
      clock.advance(5000)
      for (const peer of peers) {
        assert.ok(peer.terminatedAt !== undefined)
        assert.ok(peer.terminatedAt - peer.pings[0] >= settings.pongTimeout, `window ${peer.terminatedAt - peer.pings[0]} ms`)
      }
      manager.close()
    }
  })

  test('a tick examines only the peers that are due, not every connection', () => {
    const clock = new FakeClock()
    const manager = new HeartbeatManager({ defaults: FAST, clock })
    for (let i = 0; i < 10_000; i++) watch(manager, clock, 0)
    clock.advance(720)
    const late = Array.from({ length: 10 }, () => watch(manager, clock))
    clock.advance(30)
    const visitsAt = new Map<number, number>()
    let visits = manager.stats().visits
    while (clock.time < 2500) {
      clock.advance(TICK)
      const now = manager.stats().visits
      if (now !== visits) visitsAt.set(clock.time, now - visits)
      visits = now
    }
    // The 10,000 are pinged at 1000 and 2000 (each answers at once); the 10 are pinged at 1700 and terminated at 2200.
    assert.deepEqual([...visitsAt], [[1000, 10_000], [1700, 10], [2000, 10_000], [2200, 10]])
    assert.ok(late.every((peer) => peer.terminatedAt === 2200))
    manager.close()
  })

  test('the tick is at most a tenth of the shortest duration, divides the durations when it can and is never below 10 ms', () => {
    const tick = (pingInterval: number, pongTimeout: number, idleTimeout = 0): number =>
      heartbeatTickInterval({ pingInterval, pongTimeout, idleTimeout })
    assert.equal(tick(25_000, 10_000), 1000)
    assert.equal(tick(15_000, 30_000), 1000)
    assert.equal(tick(3000, 2000), 200)
    assert.equal(tick(1000, 735), 50)
    assert.equal(tick(100, 100), 10)
    assert.equal(tick(20, 20), 10)
    assert.equal(tick(25_000, 10_000, 1500), 100)
    assert.equal(tick(0, 10_000, 60_000), 1000)
    assert.equal(heartbeatDetectionBound(HEARTBEAT_DEFAULTS), 35_000)
    assert.equal(heartbeatDetectionBound({ ...HEARTBEAT_DEFAULTS, pingInterval: 0 }), Infinity)
  })

  test('invalid settings are described and rejected as defaults', () => {
    assert.equal(checkHeartbeatSettings(HEARTBEAT_DEFAULTS), undefined)
    assert.equal(checkHeartbeatSettings({ pingInterval: 0, pongTimeout: 0, idleTimeout: 0 }), undefined)
    assert.match(String(checkHeartbeatSettings({ ...HEARTBEAT_DEFAULTS, pingInterval: 5 })), /pingInterval/)
    assert.match(String(checkHeartbeatSettings({ ...HEARTBEAT_DEFAULTS, pongTimeout: 0 })), /pongTimeout/)
    assert.match(String(checkHeartbeatSettings({ ...HEARTBEAT_DEFAULTS, idleTimeout: 1.5 })), /idleTimeout/)
    assert.throws(() => new HeartbeatManager({ defaults: { ...HEARTBEAT_DEFAULTS, pongTimeout: -1 } }), TypeError)
  })

  test('with the real clock, an answering peer stays, a busy one is not pinged and a silent one is dropped within the bound', async () => {
    const settings: HeartbeatSettings = { pingInterval: 100, pongTimeout: 100, idleTimeout: 0 }
    const manager = new HeartbeatManager({ defaults: settings })
    const started = performance.now()
    const events = { answeringPings: 0, busyPings: 0, silentPingAt: 0, silentTerminatedAt: 0, others: 0 }
    const answering = manager.add({
      sendPing () { events.answeringPings++; setImmediate(() => answering.pong()) },
      terminate () { events.others++ },
      closeIdle () { events.others++ }
    })
    const busy = manager.add({ sendPing () { events.busyPings++ }, terminate () { events.others++ }, closeIdle () { events.others++ } })
    manager.add({
      sendPing () { events.silentPingAt = performance.now() },
      terminate () { events.silentTerminatedAt = performance.now() },
      closeIdle () { events.others++ }
    })
    for await (const _ of every(20)) {
      busy.touchMessage()
      const elapsed = performance.now() - started
      // At least 700 ms, and on a loaded machine until the silent peer is dropped (at most 5 s).
      if ((elapsed > 700 && events.silentTerminatedAt > 0) || elapsed > 5000) break
    }
    // Real timers fire late under CPU contention; a second of slack still fails a manager that waits a default interval.
    const slack = 1000
    assert.ok(events.silentTerminatedAt > 0, 'the silent peer was terminated')
    const detection = events.silentTerminatedAt - started
    assert.ok(detection <= heartbeatDetectionBound(settings) + slack, `detected after ${detection} ms`)
    assert.ok(events.silentTerminatedAt - events.silentPingAt >= settings.pongTimeout - 1, 'the silent peer had the full pongTimeout')
    assert.ok(events.answeringPings >= 4, `answering peer pinged ${events.answeringPings} times`)
    assert.ok(answering.lastRtt !== undefined && answering.lastRtt >= 0)
    assert.equal(events.busyPings, 0)
    assert.equal(events.others, 0)
    assert.equal(manager.stats().connections, 2)
    manager.close()
    await delay(1)
  })
})
