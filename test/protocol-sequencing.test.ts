import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CloseCode } from '../lib/protocol/close-codes.js'
import { ProtocolError } from '../lib/protocol/protocol-error.js'
import { InboundTracker } from '../lib/protocol/inbound-tracker.js'
import { OutboundLog } from '../lib/protocol/outbound-log.js'
import { AckScheduler, type SetTimer, type ClearTimer } from '../lib/protocol/ack-scheduler.js'
import { encodeData } from '../lib/protocol/frames.js'

function badMessage (pattern: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof ProtocolError && error.closeCode === CloseCode.BAD_MESSAGE && pattern.test(error.message)
}

/** A manual clock for timers: `advance(ms)` runs the timers that fall due. */
function fakeTimers (): { setTimer: SetTimer, clearTimer: ClearTimer, advance: (ms: number) => void, pending: () => number } {
  let now = 0
  let nextId = 1
  const timers = new Map<number, { at: number, callback: () => void }>()
  return {
    setTimer: (callback, delay) => {
      const id = nextId++
      timers.set(id, { at: now + delay, callback })
      return id
    },
    clearTimer: (handle) => { timers.delete(handle as number) },
    advance: (ms) => {
      now += ms
      for (const [id, timer] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (timer.at > now || !timers.has(id)) continue
        timers.delete(id)
        timer.callback()
      }
    },
    pending: () => timers.size
  }
}

/** A log holding `n` text messages, each 10 bytes. */
function filledLog (n: number, options = {}): { log: OutboundLog, settled: Array<[number, Error | null]> } {
  const log = new OutboundLog(options)
  const settled: Array<[number, Error | null]> = []
  for (let i = 0; i < n; i++) {
    const seq = log.nextSeq
    assert.equal(log.push(encodeData(seq, 'x'.repeat(10 - String(seq).length - 2)), 10, (error) => settled.push([seq, error])), seq)
  }
  return { log, settled }
}

describe('inbound tracker', () => {
  it('delivers consecutive seqs from 1', () => {
    const tracker = new InboundTracker()
    tracker.startConnection()
    assert.equal(tracker.accept(1), 'deliver')
    assert.equal(tracker.accept(2), 'deliver')
    assert.equal(tracker.delivered, 2)
  })

  it('drops seqs at or below the last delivered one after a reconnect as duplicates', () => {
    const tracker = new InboundTracker()
    tracker.startConnection()
    for (let seq = 1; seq <= 5; seq++) tracker.accept(seq)
    tracker.startConnection()
    assert.equal(tracker.accept(3), 'duplicate')
    assert.equal(tracker.accept(5), 'duplicate')
    assert.equal(tracker.accept(6), 'deliver')
    assert.equal(tracker.delivered, 6)
  })

  it('treats a gap as a protocol error', () => {
    const tracker = new InboundTracker()
    tracker.startConnection()
    tracker.accept(1)
    assert.throws(() => tracker.accept(3), badMessage(/gap in seq: expected 2, got 3/))
  })

  it('treats a seq going backwards on one connection as a protocol error, even below the delivered one', () => {
    const tracker = new InboundTracker()
    tracker.startConnection()
    tracker.accept(1)
    tracker.accept(2)
    assert.throws(() => tracker.accept(2), badMessage(/seq went backwards: 2 after 2/))
    const resumed = new InboundTracker(10)
    resumed.startConnection()
    assert.equal(resumed.accept(7), 'duplicate')
    assert.throws(() => resumed.accept(6), badMessage(/seq went backwards: 6 after 7/))
  })

  it('starts from a stored position when rebuilt for a resumed session', () => {
    const tracker = new InboundTracker(41)
    tracker.startConnection()
    assert.equal(tracker.acked, 41)
    assert.throws(() => tracker.accept(43), badMessage(/gap in seq: expected 42, got 43/))
    const next = new InboundTracker(41)
    next.startConnection()
    assert.equal(next.accept(42), 'deliver')
  })

  it('counts unacknowledged deliveries and hands out cumulative acks once', () => {
    const tracker = new InboundTracker()
    tracker.startConnection()
    assert.equal(tracker.takeAck(), 0)
    tracker.accept(1)
    tracker.accept(2)
    assert.equal(tracker.unacked, 2)
    assert.equal(tracker.takeAck(), 2)
    assert.equal(tracker.unacked, 0)
    assert.equal(tracker.takeAck(), 0)
  })

  it('counts the handshake position as acknowledged when a connection starts', () => {
    const tracker = new InboundTracker()
    tracker.startConnection()
    tracker.accept(1)
    tracker.startConnection()
    assert.equal(tracker.unacked, 0)
    assert.equal(tracker.acked, 1)
  })
})

describe('outbound log', () => {
  it('numbers messages from 1 and keeps them until acknowledged', () => {
    const { log } = filledLog(3)
    assert.equal(log.lastSeq, 3)
    assert.equal(log.count, 3)
    assert.equal(log.bytes, 30)
    assert.equal(log.nextSeq, 4)
  })

  it('releases cumulatively on ack and resolves the callbacks in order', () => {
    const { log, settled } = filledLog(5)
    assert.equal(log.ack(3), 3)
    assert.deepEqual(settled, [[1, null], [2, null], [3, null]])
    assert.equal(log.acked, 3)
    assert.equal(log.count, 2)
    assert.equal(log.bytes, 20)
  })

  it('ignores an ack at or below the acknowledged position as a stale duplicate', () => {
    const { log, settled } = filledLog(5)
    log.ack(3)
    assert.equal(log.ack(3), 0)
    assert.equal(log.ack(1), 0)
    assert.equal(settled.length, 3)
  })

  it('treats an ack of a message never sent as a protocol error', () => {
    const { log } = filledLog(2)
    assert.throws(() => log.ack(3), badMessage(/ack 3 of a message never sent \(last seq sent is 2\)/))
    assert.equal(log.count, 2)
  })

  it('refuses a message that would pass maxCount, and takes it again after an ack', () => {
    const { log } = filledLog(4, { maxCount: 4 })
    assert.equal(log.fits(10), false)
    assert.equal(log.push('D5:x', 10), 0)
    assert.equal(log.count, 4)
    assert.equal(log.lastSeq, 4, 'a refused message takes no seq')
    log.ack(1)
    assert.equal(log.push('D5:x', 10), 5)
  })

  it('refuses a message that would pass maxBytes, but an empty log takes one message of any size', () => {
    const log = new OutboundLog({ maxBytes: 100 })
    assert.equal(log.push('big', 500), 1)
    assert.equal(log.push('small', 1), 0)
    log.ack(1)
    assert.equal(log.push('a', 60), 2)
    assert.equal(log.push('b', 40), 3)
    assert.equal(log.push('c', 1), 0)
    assert.equal(log.bytes, 100)
  })

  it('replays the messages after the peer position in order and releases the ones before it', () => {
    const { log, settled } = filledLog(6)
    log.ack(2)
    const replay = log.replayFrom(4)
    assert.deepEqual(replay, [encodeData(5, 'x'.repeat(7)), encodeData(6, 'x'.repeat(7))])
    assert.equal(log.acked, 4)
    assert.deepEqual(settled.map(([seq]) => seq), [1, 2, 3, 4])
    assert.deepEqual(log.replayFrom(6), [])
  })

  it('treats a peer position beyond the last seq sent, or behind its own ack, as a protocol error', () => {
    const { log } = filledLog(3)
    log.ack(2)
    assert.throws(() => log.replayFrom(4), badMessage(/peer claims delivery of seq 4 but the last seq sent is 3/))
    assert.throws(() => log.replayFrom(1), badMessage(/peer position 1 is behind its own ack 2/))
  })

  it('keeps seq order across ring buffer growth and wrap-around', () => {
    const log = new OutboundLog({ maxCount: 1000 })
    let acked = 0
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 20; i++) log.push(`m${log.nextSeq}`, 1)
      acked += 13
      log.ack(acked)
    }
    const seen: number[] = []
    log.forEach((seq, frame) => {
      assert.equal(frame, `m${seq}`)
      seen.push(seq)
    })
    assert.equal(seen.length, log.count)
    assert.equal(seen[0], acked + 1)
    assert.deepEqual(log.replayFrom(acked), seen.map((seq) => `m${seq}`))
  })

  it('fail rejects every pending callback once and keeps the messages for replay', () => {
    const { log, settled } = filledLog(3)
    const error = new Error('session expired')
    log.fail(error)
    log.fail(new Error('second'))
    assert.deepEqual(settled, [[1, error], [2, error], [3, error]])
    assert.equal(log.count, 3)
    log.ack(3)
    assert.equal(settled.length, 3)
  })

  it('resumes numbering after a stored acknowledged position', () => {
    const log = new OutboundLog({ acked: 100 })
    assert.equal(log.push('D101:x', 6), 101)
    assert.throws(() => log.replayFrom(99), badMessage(/behind its own ack 100/))
  })

  it('rejects invalid bounds at construction', () => {
    assert.throws(() => new OutboundLog({ maxCount: 0 }), TypeError)
    assert.throws(() => new OutboundLog({ maxBytes: 0 }), TypeError)
    assert.throws(() => new OutboundLog({ acked: -1 }), TypeError)
  })
})

describe('ack scheduler', () => {
  function setup (ackEvery: number, ackInterval: number): {
    tracker: InboundTracker, scheduler: AckScheduler, sent: number[], timers: ReturnType<typeof fakeTimers>, deliver: (n: number) => void
  } {
    const timers = fakeTimers()
    const tracker = new InboundTracker()
    tracker.startConnection()
    const sent: number[] = []
    const scheduler = new AckScheduler({
      source: tracker, sendAck: (seq) => sent.push(seq), ackEvery, ackInterval, setTimer: timers.setTimer, clearTimer: timers.clearTimer
    })
    const deliver = (n: number): void => {
      for (let i = 0; i < n; i++) {
        tracker.accept(tracker.delivered + 1)
        scheduler.delivered()
      }
    }
    return { tracker, scheduler, sent, timers, deliver }
  }

  it('acks at once when ackEvery deliveries are unacknowledged', () => {
    const { sent, timers, deliver } = setup(4, 50)
    deliver(3)
    assert.deepEqual(sent, [])
    deliver(1)
    assert.deepEqual(sent, [4])
    assert.equal(timers.pending(), 0, 'the count trigger cancels the timer')
    deliver(9)
    assert.deepEqual(sent, [4, 8, 12])
  })

  it('acks ackInterval ms after the first unacknowledged delivery when fewer arrive', () => {
    const { sent, timers, deliver } = setup(64, 50)
    deliver(1)
    timers.advance(30)
    deliver(2)
    assert.deepEqual(sent, [])
    timers.advance(19)
    assert.deepEqual(sent, [])
    timers.advance(1)
    assert.deepEqual(sent, [3], 'one cumulative ack for three deliveries')
    timers.advance(1000)
    assert.deepEqual(sent, [3], 'no ack without new deliveries')
  })

  it('flush sends the pending ack now and nothing when there is none', () => {
    const { scheduler, sent, timers, deliver } = setup(64, 50)
    scheduler.flush()
    deliver(2)
    scheduler.flush()
    assert.deepEqual(sent, [2])
    assert.equal(timers.pending(), 0)
    assert.equal(scheduler.scheduled, false)
  })

  it('stop cancels the timer and leaves the deliveries unacknowledged', () => {
    const { tracker, scheduler, sent, timers, deliver } = setup(64, 50)
    deliver(2)
    scheduler.stop()
    timers.advance(100)
    assert.deepEqual(sent, [])
    assert.equal(tracker.unacked, 2)
  })

  it('acks on a real timer with the default settings', async () => {
    const tracker = new InboundTracker()
    tracker.startConnection()
    let resolveAck: (seq: number) => void = () => {}
    const acked = new Promise<number>((resolve) => { resolveAck = resolve })
    const scheduler = new AckScheduler({ source: tracker, sendAck: (seq) => resolveAck(seq) })
    assert.equal(scheduler.ackInterval, 20)
    assert.equal(scheduler.ackEvery, 64)
    tracker.accept(1)
    scheduler.delivered()
    assert.equal(scheduler.scheduled, true)
    assert.equal(await acked, 1)
    assert.equal(scheduler.scheduled, false)
  })

  it('rejects invalid settings at construction', () => {
    const source = new InboundTracker()
    assert.throws(() => new AckScheduler({ source, sendAck: () => {}, ackEvery: 0 }), TypeError)
    assert.throws(() => new AckScheduler({ source, sendAck: () => {}, ackInterval: -1 }), TypeError)
    assert.throws(() => new AckScheduler({ source, sendAck: () => {}, ackInterval: Infinity }), TypeError)
  })
})
