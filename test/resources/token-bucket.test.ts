import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { TokenBucket } from '../../lib/limits/token-bucket.js'
import { RateLimiter } from '../../lib/limits/rate-limiter.js'

describe('TokenBucket', () => {
  test('a full bucket passes exactly its capacity at one instant, then refuses', () => {
    const bucket = new TokenBucket(10, 5, 0)
    for (let i = 0; i < 5; i++) assert.equal(bucket.take(1, 0), true, `take ${i + 1}`)
    assert.equal(bucket.take(1, 0), false)
    assert.equal(bucket.take(1, 0), false, 'a refused take takes nothing and stays refused')
  })

  test('tokens flow back at the rate: one per 100 ms at 10 per second', () => {
    const bucket = new TokenBucket(10, 5, 0)
    for (let i = 0; i < 5; i++) bucket.take(1, 0)
    assert.equal(bucket.take(1, 99), false, 'not before 100 ms')
    assert.equal(bucket.take(1, 100), true, 'one token after 100 ms')
    assert.equal(bucket.take(1, 100), false)
    assert.equal(bucket.take(1, 300), true)
    assert.equal(bucket.take(1, 300), true, 'two tokens after 200 more ms')
    assert.equal(bucket.take(1, 300), false)
  })

  test('a long quiet spell refills to the capacity, never beyond', () => {
    const bucket = new TokenBucket(10, 3, 0)
    for (let i = 0; i < 3; i++) bucket.take(1, 0)
    let passed = 0
    while (bucket.take(1, 60_000)) passed++
    assert.equal(passed, 3)
  })

  test('one unit larger than the capacity passes an idle bucket and its debt is paid before the next', () => {
    const bucket = new TokenBucket(1000, 1000, 0)
    assert.equal(bucket.take(5000, 0), true, 'a big message fits an idle bucket')
    assert.equal(bucket.tokens, -4000)
    assert.equal(bucket.take(1, 3999), false, 'still in debt after 3999 ms')
    assert.equal(bucket.take(1, 4000), false, 'even at zero tokens')
    assert.equal(bucket.take(1, 4001), true, 'the debt is paid after 4 s at 1000 per second')
  })

  test('a steady sender at the rate is never refused; at twice the rate it is refused within a burst', () => {
    const steady = new TokenBucket(100, 100, 0)
    for (let t = 0; t < 10_000; t += 10) assert.equal(steady.take(1, t), true, `at ${t} ms`)
    const flood = new TokenBucket(100, 100, 0)
    let refusedAt = -1
    for (let t = 0; t < 10_000 && refusedAt < 0; t += 5) if (!flood.take(1, t)) refusedAt = t
    assert.ok(refusedAt > 0 && refusedAt <= 1000, `refused after about one burst (at ${refusedAt} ms)`)
  })

  test('real time: a bucket of 20 per second refills within real milliseconds', async () => {
    const now = (): number => performance.now()
    const bucket = new TokenBucket(20, 1, now())
    assert.equal(bucket.take(1, now()), true)
    assert.equal(bucket.take(1, now()), false)
    const started = now()
    await new Promise((resolve) => setTimeout(resolve, 60))
    assert.ok(now() - started >= 50, 'at least 50 ms passed')
    assert.equal(bucket.take(1, now()), true, 'a token came back after 50 ms at 20 per second')
  })
})

describe('RateLimiter', () => {
  const settings = { messagesPerSecond: 10, bytesPerSecond: 1000, burstSeconds: 1 }

  test('names the limit a frame exceeds: messages first, then bytes', () => {
    let time = 0
    const limiter = new RateLimiter(settings, () => time)
    for (let i = 0; i < 10; i++) assert.equal(limiter.admit(10), undefined)
    assert.equal(limiter.admit(10), 'messages')
    time = 1000
    assert.equal(limiter.admit(2000), undefined, 'a big frame passes a full byte bucket')
    assert.equal(limiter.admit(1), 'bytes')
  })

  test('Infinity turns one count off', () => {
    const time = 0
    const limiter = new RateLimiter({ ...settings, messagesPerSecond: Infinity }, () => time)
    for (let i = 0; i < 100; i++) assert.equal(limiter.admit(1), undefined)
    assert.equal(limiter.admit(10_000), 'bytes')
  })
})

describe('turnNow', () => {
  test('one value within a synchronous run, a later one after the run', async () => {
    const { turnNow } = await import('../../lib/limits/turn-clock.js')
    const first = turnNow()
    const spin = performance.now() + 5
    while (performance.now() < spin) { /* let real time pass inside one run */ }
    assert.equal(turnNow(), first, 'the same value while the run lasts')
    await new Promise((resolve) => setTimeout(resolve, 5))
    assert.ok(turnNow() >= first + 5, 'a fresh value in a later turn')
  })
})
