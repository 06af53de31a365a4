import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { DeadlineQueue } from '../lib/deadline-queue.js'
import type { DeadlineEntry } from '../lib/deadline-queue.js'

class Entry implements DeadlineEntry<Entry> {
  deadlineAt = Number.NaN
  deadlinePrev: Entry | null = null
  deadlineNext: Entry | null = null
  addedAt = 0
  constructor (readonly name: string) {}
}

/** A queue that records what expired, and when, relative to when each entry was added. */
function recordingQueue (): { queue: DeadlineQueue<Entry>, expired: Array<{ name: string, after: number }>, add: (entry: Entry, delay: number) => void } {
  const expired: Array<{ name: string, after: number }> = []
  const queue = new DeadlineQueue<Entry>((entry) => expired.push({ name: entry.name, after: performance.now() - entry.addedAt }))
  return {
    queue,
    expired,
    add (entry, delay) {
      entry.addedAt = performance.now()
      queue.add(entry, delay)
    }
  }
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

describe('DeadlineQueue', () => {
  test('entries expire in deadline order, never before their delay, also when added out of order', async () => {
    const { queue, expired, add } = recordingQueue()
    const late = new Entry('late')
    const early = new Entry('early')
    const middle = new Entry('middle')
    add(late, 60)
    add(early, 20)
    add(middle, 40)
    assert.ok(queue.has(late) && queue.has(early) && queue.has(middle))
    // A later entry proves that the time of all three has passed.
    const marker = new Entry('marker')
    add(marker, 90)
    while (expired.length < 4) await sleep(10)
    assert.deepEqual(expired.map((e) => e.name), ['early', 'middle', 'late', 'marker'])
    const delays: Record<string, number> = { early: 20, middle: 40, late: 60, marker: 90 }
    for (const { name, after } of expired) assert.ok(after >= delays[name] - 1, `${name} expired after ${after} ms, before its ${delays[name]} ms`)
    assert.ok(!queue.has(early))
  })

  test('a removed entry never expires; an entry added again moves to its new deadline', async () => {
    const { queue, expired, add } = recordingQueue()
    const removed = new Entry('removed')
    const moved = new Entry('moved')
    const marker = new Entry('marker')
    add(removed, 10)
    add(moved, 10)
    add(marker, 50)
    queue.remove(removed)
    queue.remove(removed) // idempotent
    add(moved, 80)
    while (expired.length < 2) await sleep(10)
    assert.deepEqual(expired.map((e) => e.name), ['marker', 'moved'])
    assert.ok(expired[1].after >= 79, `moved expired ${expired[1].after} ms after its second add`)
  })

  test('clear() drops every entry without expiring it; the queue works afterwards', async () => {
    const { queue, expired, add } = recordingQueue()
    const dropped = [new Entry('a'), new Entry('b')]
    for (const entry of dropped) add(entry, 10)
    queue.clear()
    assert.ok(dropped.every((entry) => !queue.has(entry)))
    const after = new Entry('after')
    add(after, 40)
    while (expired.length < 1) await sleep(10)
    assert.deepEqual(expired.map((e) => e.name), ['after'])
  })

  test('an entry added from the expire callback is met by the same timer chain', async () => {
    const expired: string[] = []
    const follower = new Entry('follower')
    const queue: DeadlineQueue<Entry> = new DeadlineQueue<Entry>((entry) => {
      expired.push(entry.name)
      if (entry.name === 'first') queue.add(follower, 10)
    })
    queue.add(new Entry('first'), 10)
    while (expired.length < 2) await sleep(10)
    assert.deepEqual(expired, ['first', 'follower'])
  })
})
