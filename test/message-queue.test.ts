// The queue of messages waiting for a handler's first listener (lib/message-queue.ts) on its own:
// the pause signal comes exactly at PENDING_PAUSE_THRESHOLD, never before. Written from mutants
// the end-to-end connection tests let survive (docs/TESTING.md, "Mutation testing"): they check
// that the socket pauses, not that it keeps reading up to the threshold.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MessageQueue, PENDING_PAUSE_THRESHOLD } from '../lib/message-queue.js'

describe('message queue', () => {
  it('asks for a pause exactly when the threshold is reached, and is full from then on', () => {
    const queue = new MessageQueue<number>()
    for (let i = 1; i < PENDING_PAUSE_THRESHOLD; i++) {
      assert.equal(queue.push(i), false, `item ${i}`)
      assert.equal(queue.isFull, false, `item ${i}`)
    }
    assert.equal(queue.push(PENDING_PAUSE_THRESHOLD), true)
    assert.equal(queue.isFull, true)
    assert.equal(queue.push(PENDING_PAUSE_THRESHOLD + 1), false, 'only the item that reached the threshold asks')
    assert.equal(queue.isFull, true)
  })

  it('hands over what waited, oldest first, once; then it is closed and never full', () => {
    const queue = new MessageQueue<string>()
    queue.push('a')
    queue.push('b')
    assert.equal(queue.isOpen, true)
    assert.deepEqual(queue.take(), ['a', 'b'])
    assert.equal(queue.isOpen, false)
    assert.equal(queue.isFull, false)
    assert.deepEqual(queue.take(), [])
  })

  it('drops what waited for nobody', () => {
    const queue = new MessageQueue<number>()
    for (let i = 0; i < PENDING_PAUSE_THRESHOLD; i++) queue.push(i)
    queue.drop()
    assert.equal(queue.isOpen, false)
    assert.equal(queue.isFull, false)
    assert.deepEqual(queue.take(), [])
  })
})
