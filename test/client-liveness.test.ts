import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { LATE_TIMER_THRESHOLD, LivenessMonitor } from '../lib/client/liveness.js'
import type { ReliableClient } from '../lib/client/index.js'
import { ScriptedPeer, nextEvent, startClient } from './helpers/client-peer.js'

/** A manual clock whose timers run when `advance` passes their due time, or late with `advanceLate`. */
function fakeClock (): {
  now: () => number
  setTimer: (callback: () => void, delay: number) => unknown
  clearTimer: (handle: unknown) => void
  advance: (ms: number) => void
  jump: (ms: number) => void
  hold: (ms: number) => void
  pending: () => number
} {
  let time = 1_000_000
  let nextId = 1
  const timers = new Map<number, { at: number, callback: () => void }>()
  const runDue = (): void => {
    // Bounded: a synchronous loop cannot be stopped by the test's timeout, so a runaway timer fails here.
    for (let fired = 0; ; fired++) {
      if (fired === 100_000) throw new Error(`the fake clock ran ${fired} timers at ${time} ms: a runaway timer`)
      const due = [...timers].filter(([, timer]) => timer.at <= time).sort((a, b) => a[1].at - b[1].at)[0]
      if (due === undefined) return
      timers.delete(due[0])
      due[1].callback()
    }
  }
  return {
    now: () => time,
    setTimer: (callback, delay) => {
      timers.set(nextId, { at: time + delay, callback })
      return nextId++
    },
    clearTimer: (handle) => { timers.delete(handle as number) },
    // Time passes in 1 ms steps, so each timer fires on time.
    advance: (ms) => {
      for (let i = 0; i < ms; i++) {
        time++
        runDue()
      }
    },
    // Time passes at once, as in a suspended laptop or a throttled tab: due timers fire late.
    jump: (ms) => {
      time += ms
      runDue()
    },
    // Time passes but no timer fires yet (a throttled background tab).
    hold: (ms) => { time += ms },
    pending: () => timers.size
  }
}

function monitor (clock: ReturnType<typeof fakeClock>, pingInterval = 1000, pongTimeout = 500): { liveness: LivenessMonitor, pings: string[], dead: () => boolean } {
  const pings: string[] = []
  let isDead = false
  const liveness = new LivenessMonitor({
    pingInterval, pongTimeout, sendPing: (token) => pings.push(token), onDead: () => { isDead = true }, ...clock
  })
  liveness.start()
  return { liveness, pings, dead: () => isDead }
}

describe('the fake clock of these tests', () => {
  it('throws on a timer that keeps re-arming at the same instant instead of hanging', () => {
    const clock = fakeClock()
    const rearm = (): void => { clock.setTimer(rearm, 0) }
    clock.setTimer(rearm, 5)
    assert.throws(() => clock.advance(10), /runaway timer/)
  })
})

describe('client heartbeat (fake clock)', () => {
  it('pings after pingInterval without frames, and every frame postpones the ping', () => {
    const clock = fakeClock()
    const { liveness, pings } = monitor(clock)
    clock.advance(999)
    assert.deepEqual(pings, [])
    liveness.heard()
    clock.advance(999)
    assert.deepEqual(pings, [], 'the frame at 999 ms moved the ping to 1999 ms')
    clock.advance(1)
    assert.deepEqual(pings, ['1'])
    liveness.stop()
  })

  it('declares the server dead pongTimeout after a ping that nothing answered', () => {
    const clock = fakeClock()
    const { pings, dead } = monitor(clock)
    clock.advance(1000)
    assert.equal(pings.length, 1)
    clock.advance(499)
    assert.equal(dead(), false)
    clock.advance(1)
    assert.equal(dead(), true)
    assert.equal(clock.pending(), 0, 'no timer left behind')
  })

  it('stays alive when any frame arrives after the ping and pings again pingInterval after it', () => {
    const clock = fakeClock()
    const { liveness, pings, dead } = monitor(clock)
    clock.advance(1000)
    clock.advance(100)
    liveness.heard()
    clock.advance(400)
    assert.equal(dead(), false)
    clock.advance(599)
    assert.equal(pings.length, 1)
    clock.advance(1)
    assert.deepEqual(pings, ['1', '2'])
    liveness.stop()
  })

  it('answers a pong deadline judged by a very late timer with a fresh ping instead of declaring death', () => {
    const clock = fakeClock()
    const { pings, dead } = monitor(clock)
    clock.advance(1000)
    clock.jump(500 + LATE_TIMER_THRESHOLD + 60_000)
    assert.equal(dead(), false, 'a late timer proves throttling, not a dead server')
    assert.deepEqual(pings, ['1', '2'])
    clock.advance(500)
    assert.equal(dead(), true, 'the fresh ping got its full pongTimeout, then the server is dead')
  })

  it('grants the late-timer grace once per silence, so throttling cannot postpone detection forever', () => {
    const clock = fakeClock()
    const { pings, dead } = monitor(clock)
    clock.advance(1000)
    clock.jump(60_000)
    assert.equal(dead(), false)
    clock.jump(60_000)
    assert.equal(dead(), true)
    assert.equal(pings.length, 2)
  })

  it('pings at once on wake and gives that ping its full pongTimeout', () => {
    const clock = fakeClock()
    const { liveness, pings, dead } = monitor(clock)
    clock.advance(10)
    liveness.wake()
    assert.deepEqual(pings, ['1'])
    clock.advance(499)
    assert.equal(dead(), false)
    clock.advance(1)
    assert.equal(dead(), true)
  })

  it('on wake, judges a pong deadline that passed while timers were held back, with a fresh ping', () => {
    const clock = fakeClock()
    const { liveness, pings, dead } = monitor(clock)
    clock.advance(1000)
    clock.hold(30_000)
    liveness.wake()
    assert.deepEqual(pings, ['1', '2'])
    assert.equal(clock.pending(), 1, 'the held-back timer was replaced, not doubled')
    clock.advance(500)
    assert.equal(dead(), true)
  })
})

describe('client heartbeat (real sockets, real time)', () => {
  let peer: ScriptedPeer
  let clients: ReliableClient[] = []

  beforeEach(async () => { peer = await ScriptedPeer.start() })
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()))
    clients = []
    await peer.close()
    Reflect.deleteProperty(globalThis, 'document')
  })

  it('sends frws:ping:<token> when idle and stays connected while the server answers', async () => {
    const client = startClient(peer.url)
    clients.push(client)
    let closes = 0
    client.on('close', () => { closes++ })
    const conn = await peer.nextConnection()
    await conn.handshake({ pingInterval: 80, pongTimeout: 80 })
    for (let i = 1; i <= 4; i++) {
      const raw = await conn.nextRaw()
      assert.equal(raw, `frws:ping:${i}`)
      conn.send(`frws:pong:${i}`)
    }
    assert.equal(closes, 0)
    assert.equal(client.state, 'open')
  })

  it('answers a ping from the server with the matching pong', async () => {
    const client = startClient(peer.url)
    clients.push(client)
    const conn = await peer.nextConnection()
    await conn.handshake()
    conn.send('frws:ping:abc')
    assert.equal(await conn.nextRaw(), 'frws:pong:abc')
    conn.send('frws:ping')
    assert.equal(await conn.nextRaw(), 'frws:pong')
  })

  it('does not ping a connection that carries traffic', async () => {
    const client = startClient(peer.url)
    clients.push(client)
    const conn = await peer.nextConnection()
    // Pauses of 40 ms against a 300 ms interval leave room for a loaded machine's late timers.
    await conn.handshake({ pingInterval: 300, pongTimeout: 300, ackInterval: 1 })
    for (let seq = 1; seq <= 24; seq++) {
      conn.send(`D${seq}:tick`)
      assert.deepEqual(await conn.next(), { type: 'A', seq }, 'the ack comes, never a ping')
      await new Promise((resolve) => setTimeout(resolve, 40))
    }
    // Once the traffic stops the client pings: its heartbeat was running all along.
    assert.match(String(await conn.nextRaw()), /^frws:ping/)
  })

  it('detects a dead server within pingInterval + pongTimeout, closes with 4408 and resumes on a new connection', async () => {
    const pingInterval = 200
    const pongTimeout = 200
    const client = startClient(peer.url)
    clients.push(client)
    const conn = await peer.nextConnection()
    const hello = conn.next()
    const closed = nextEvent(client, 'close', 5000)
    assert.equal((await hello).type, 'H')
    conn.welcome({ pingInterval, pongTimeout })
    const lastFrameAt = Date.now()
    // The peer goes silent: it reads the ping but never answers.
    const [event] = await closed
    const detection = Date.now() - lastFrameAt
    assert.equal(event.code, 4408)
    assert.match(event.reason, /heartbeat timeout/)
    assert.equal(event.willReconnect, true)
    assert.equal(await conn.nextRaw(), 'frws:ping:1')
    assert.ok(detection >= pingInterval + pongTimeout - 5, `not before the bound: ${detection} ms`)
    // Generous slack for a loaded machine; detection must still come within a few intervals.
    assert.ok(detection <= pingInterval + pongTimeout + 1500, `within the bound plus scheduling slack: ${detection} ms`)
    const second = await peer.nextConnection()
    assert.equal((await second.handshake({ resumed: true })).resume?.sessionId, 'session-1')
    await nextEvent(client, 'resumed')
  })

  it('pings at once when a hidden page becomes visible', async () => {
    const page = Object.assign(new EventTarget(), { visibilityState: 'hidden' })
    Object.defineProperty(globalThis, 'document', { value: page, configurable: true })
    const client = startClient(peer.url)
    clients.push(client)
    const conn = await peer.nextConnection()
    await conn.handshake({ pingInterval: 60_000, pongTimeout: 10_000 })
    await nextEvent(client, 'open')
    page.dispatchEvent(new Event('visibilitychange'))
    page.visibilityState = 'visible'
    page.dispatchEvent(new Event('visibilitychange'))
    assert.equal(await conn.nextRaw(), 'frws:ping:1')
    conn.send('frws:pong:1')
    conn.send('D1:still here')
    assert.deepEqual(await conn.next(), { type: 'A', seq: 1 })
  })
})
