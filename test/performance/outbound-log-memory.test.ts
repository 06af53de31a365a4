import { test } from 'node:test'
import assert from 'node:assert/strict'
import { OutboundLog } from '../../lib/protocol/outbound-log.js'

/** The length of the log's ring (white box: what an idle session holds). */
function ringSlots (log: OutboundLog): number {
  return (log as unknown as { frames: unknown[] }).frames.length
}

test('a new log holds no ring until its first message', () => {
  const log = new OutboundLog()
  assert.equal(ringSlots(log), 0)
  assert.deepEqual(log.replayFrom(0), [])
  assert.equal(log.push('D1:a', 4), 1)
  assert.equal(ringSlots(log), 16)
})

test('a log emptied after a burst gives its large ring back, and works on as before', () => {
  const log = new OutboundLog()
  const settled: number[] = []
  for (let seq = 1; seq <= 1000; seq++) assert.equal(log.push(`D${seq}:x`, 5, () => settled.push(seq)), seq)
  assert.equal(ringSlots(log), 1024)
  assert.equal(log.ack(600), 600)
  assert.equal(ringSlots(log), 1024, 'kept while messages remain')
  assert.equal(log.ack(1000), 400)
  assert.equal(ringSlots(log), 0)
  assert.equal(settled.length, 1000)
  assert.equal(log.bytes, 0)
  assert.equal(log.push('D1001:y', 7), 1001)
  assert.deepEqual(log.replayFrom(1000), ['D1001:y'])
})

test('a small ring is kept when the log empties (no regrowth per burst)', () => {
  const log = new OutboundLog()
  for (let seq = 1; seq <= 40; seq++) log.push(`D${seq}:x`, 5)
  log.ack(40)
  assert.equal(ringSlots(log), 64)
})
