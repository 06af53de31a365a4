import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ARENA_MAX_FRAME_BYTES, FrameArena } from '../../lib/reliable/frame-arena.js'

test('frames carved one after the other share a chunk, do not overlap, and the unused tail is the slack', () => {
  const arena = new FrameArena()
  assert.equal(arena.slack, 0)
  assert.equal(arena.slackWith(1000), 1000, 'the first chunk is twice the frame')
  const first = arena.carve(1, 1000)
  assert.equal(first.length, 1000)
  assert.equal(arena.slack, 1000)
  assert.equal(arena.slackWith(600), 400)
  const second = arena.carve(2, 600)
  assert.equal(second.buffer, first.buffer)
  assert.equal(second.byteOffset, first.byteOffset + 1000)
  first.fill(1)
  second.fill(2)
  assert.ok(first.every((byte) => byte === 1))
  assert.ok(second.every((byte) => byte === 2))
  assert.equal(arena.slack, 400)
})

test('a frame that does not fit the current chunk starts a larger one, sized by what is in flight', () => {
  const arena = new FrameArena()
  const first = arena.carve(1, 4000) // a chunk of 8,000
  assert.equal(arena.slackWith(5000), 4000 + 2 * (4000 + 5000) - 5000)
  const second = arena.carve(2, 5000)
  assert.equal(arena.slack, 8000 + 18_000 - 9000, 'both chunks are counted')
  assert.notEqual(second.buffer, first.buffer)
  assert.equal(second.buffer.byteLength, 18_000)
})

test('acknowledged frames count as slack while their chunk lives; a chunk whose frames are all acknowledged is let go', () => {
  const arena = new FrameArena()
  arena.carve(1, 4000) // chunk A of 8,000
  arena.carve(2, 4000) // fills A
  arena.carve(3, 4000) // chunk B of 2 x 12,000 = 24,000
  assert.equal(arena.slack, 8000 + 24_000 - 12_000)
  arena.release(1)
  assert.equal(arena.slack, 8000 + 24_000 - 8000, 'frame 1 is acknowledged but chunk A still holds frame 2')
  arena.release(2)
  assert.equal(arena.slack, 24_000 - 4000, 'chunk A is let go')
  arena.release(2)
  assert.equal(arena.slack, 20_000, 'a repeated release changes nothing')
})

test('with nothing carved in flight the arena holds nothing, the current chunk included', () => {
  const arena = new FrameArena()
  arena.carve(1, 2000)
  arena.carve(2, 1500)
  arena.release(2)
  assert.equal(arena.slack, 0)
  assert.equal(arena.slackWith(2000), 2000, 'the next frame starts a new chunk')
  const next = arena.carve(3, 2000)
  assert.equal(next.length, 2000)
  assert.equal(arena.slack, 2000)
})

test('chunks stay within 64 KiB however much is in flight, and seqs skipped by the log are released by later acks', () => {
  const arena = new FrameArena()
  for (let seq = 1; seq <= 100; seq++) arena.carve(seq * 2, ARENA_MAX_FRAME_BYTES / 4)
  assert.ok(arena.slack < 64 * 1024, `slack ${arena.slack}`)
  arena.release(101)
  assert.ok(arena.slack < 2 * 64 * 1024)
  arena.release(200)
  assert.equal(arena.slack, 0)
})

test('many releases keep the bookkeeping compact and exact', () => {
  const arena = new FrameArena()
  let carved = 0
  for (let seq = 1; seq <= 5000; seq++) {
    arena.carve(seq, 1024)
    carved++
    if (seq % 7 === 0) arena.release(seq - 3)
  }
  assert.equal(carved, 5000)
  arena.release(4990)
  const slack = arena.slack
  assert.ok(slack >= 0 && slack < 2 * 64 * 1024, `slack ${slack}`)
  arena.release(5000)
  assert.equal(arena.slack, 0)
})
