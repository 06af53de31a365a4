import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { backoffDelay } from '../lib/client/backoff.js'
import { closeAction, ReconnectPolicy, TRY_AGAIN_LATER_DELAY } from '../lib/client/reconnect-policy.js'
import { ClientErrorCode } from '../lib/client/client-errors.js'
import { startClient } from './helpers/client-peer.js'
import type { ReconnectingEvent, EndEvent } from '../lib/client/index.js'

const ALMOST_ONE = 1 - Number.EPSILON

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return address.port
}

describe('backoff with full jitter', () => {
  it('draws 0 when random gives 0 and the whole ceiling when random gives nearly 1', () => {
    assert.equal(backoffDelay(0, 500, 30_000, () => 0), 0)
    assert.equal(backoffDelay(0, 500, 30_000, () => ALMOST_ONE), 500)
    assert.equal(backoffDelay(3, 500, 30_000, () => 0), 0)
    assert.equal(backoffDelay(3, 500, 30_000, () => ALMOST_ONE), 4000)
  })

  it('doubles the ceiling per attempt from baseDelay', () => {
    const ceilings = [0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, 100, 1_000_000, () => ALMOST_ONE))
    assert.deepEqual(ceilings, [100, 200, 400, 800, 1600])
  })

  it('caps the ceiling at maxDelay, even for absurd attempt numbers', () => {
    assert.equal(backoffDelay(10, 500, 30_000, () => ALMOST_ONE), 30_000)
    assert.equal(backoffDelay(5000, 500, 30_000, () => ALMOST_ONE), 30_000)
    assert.equal(backoffDelay(5000, 500, 30_000, () => 0.5), 15_000)
  })

  it('keeps every delay drawn from Math.random within 0 and the ceiling, spread over the range', () => {
    const delays = Array.from({ length: 2000 }, () => backoffDelay(2, 500, 30_000, Math.random))
    assert.ok(delays.every((delay) => Number.isInteger(delay) && delay >= 0 && delay <= 2000))
    assert.ok(delays.some((delay) => delay < 500), 'some delays fall in the lowest quarter')
    assert.ok(delays.some((delay) => delay > 1500), 'some delays fall in the highest quarter')
  })
})

describe('close-code policy', () => {
  it('gives up, idles or reconnects per the close-code table of PROTOCOL.md', () => {
    for (const code of [1000, 1003, 1007, 1008, 1009, 4400, 4409, 4426]) assert.equal(closeAction(code, false), 'give-up', `code ${code}`)
    for (const code of [1001, 1002, 1005, 1006, 1011, 1013, 4401, 4408, 4413, 3000, 4999]) assert.equal(closeAction(code, false), 'reconnect', `code ${code}`)
    assert.equal(closeAction(4000, false), 'idle')
  })

  it('reconnects after its own 4400 and 4408 but gives up after its own 4426', () => {
    assert.equal(closeAction(4400, true), 'reconnect')
    assert.equal(closeAction(4408, true), 'reconnect')
    assert.equal(closeAction(4426, true), 'give-up')
  })

  it('refuses 4401 by default, and shouldRetry can allow it', () => {
    const base = { baseDelay: 10, maxDelay: 100, maxAttempts: Infinity, random: () => 0 }
    const refusing = new ReconnectPolicy({ ...base, shouldRetry: (info) => info.code !== 4401 }, () => {})
    assert.equal(refusing.decide({ code: 4401, reason: 'unauthorized' }, false).action, 'give-up')
    const allowing = new ReconnectPolicy({ ...base, shouldRetry: () => true }, () => {})
    assert.equal(allowing.decide({ code: 4401, reason: 'unauthorized' }, false).action, 'reconnect')
  })

  it('waits at least a few seconds after 1013 and restarts the attempt count after a handshake', () => {
    const policy = new ReconnectPolicy({ baseDelay: 10, maxDelay: 60_000, maxAttempts: Infinity, random: () => 0, shouldRetry: () => true }, () => {})
    const busy = policy.decide({ code: 1013, reason: 'try again later' }, false)
    assert.deepEqual(busy, { action: 'reconnect', attempt: 1, delay: TRY_AGAIN_LATER_DELAY })
    assert.deepEqual(policy.decide({ code: 1006, reason: '' }, false), { action: 'reconnect', attempt: 2, delay: 0 })
    policy.connected()
    assert.deepEqual(policy.decide({ code: 1006, reason: '' }, false), { action: 'reconnect', attempt: 1, delay: 0 })
  })

  it('reconnects at once after 4420 (slow consumer) but waits at least a few seconds after 4429 (rate limited)', () => {
    const policy = new ReconnectPolicy({ baseDelay: 10, maxDelay: 60_000, maxAttempts: Infinity, random: () => 0, shouldRetry: () => true }, () => {})
    assert.equal(closeAction(4420, false), 'reconnect')
    assert.equal(closeAction(4429, false), 'reconnect')
    assert.deepEqual(policy.decide({ code: 4420, reason: 'slow consumer' }, false), { action: 'reconnect', attempt: 1, delay: 0 })
    policy.connected()
    assert.deepEqual(policy.decide({ code: 4429, reason: 'rate limit exceeded' }, false), { action: 'reconnect', attempt: 1, delay: TRY_AGAIN_LATER_DELAY })
  })

  it('gives up after three protocol errors in a row but not when other closes come between', () => {
    const policy = new ReconnectPolicy({ baseDelay: 10, maxDelay: 100, maxAttempts: Infinity, random: () => 0, shouldRetry: () => true }, () => {})
    const bad = { code: 4400, reason: 'bad frame' }
    assert.equal(policy.decide(bad, true).action, 'reconnect')
    assert.equal(policy.decide(bad, true).action, 'reconnect')
    assert.equal(policy.decide({ code: 1006, reason: '' }, false).action, 'reconnect')
    assert.equal(policy.decide(bad, true).action, 'reconnect')
    assert.equal(policy.decide({ code: 1002, reason: '' }, false).action, 'reconnect')
    assert.equal(policy.decide(bad, true).action, 'reconnect')
    const last = policy.decide(bad, true)
    assert.equal(last.action, 'give-up')
    assert.match(last.action === 'give-up' ? last.error.message : '', /4 protocol errors in a row/)
  })

  it('gives up when shouldRetry throws and reports the error', () => {
    const errors: unknown[] = []
    const policy = new ReconnectPolicy({
      baseDelay: 10, maxDelay: 100, maxAttempts: Infinity, random: () => 0, shouldRetry: () => { throw new Error('hook broke') }
    }, (error) => errors.push(error))
    assert.equal(policy.decide({ code: 1006, reason: '' }, false).action, 'give-up')
    assert.equal(errors.length, 1)
  })
})

describe('reconnecting to a server that is down', () => {
  const clients: Array<{ close: () => Promise<void> }> = []
  after(async () => { await Promise.all(clients.map((client) => client.close())) })

  it('retries with the injected random and backoff, counts attempts and gives up after maxAttempts', async () => {
    const port = await closedPort()
    const client = startClient(`ws://127.0.0.1:${port}/ws`, { baseDelay: 20, maxDelay: 1000, maxAttempts: 3, random: () => 0.5 })
    clients.push(client)
    const reconnecting: ReconnectingEvent[] = []
    client.on('reconnecting', (event) => reconnecting.push(event))
    const end = await new Promise<EndEvent>((resolve) => client.on('end', resolve))
    assert.deepEqual(reconnecting.map((event) => [event.attempt, event.delay, event.closeInfo.code]), [[1, 10, 1006], [2, 20, 1006], [3, 40, 1006]])
    assert.equal(end.error?.code, ClientErrorCode.GAVE_UP)
    assert.match(end.error?.message ?? '', /after 3 failed attempts/)
    assert.equal(client.state, 'closed')
  })
})
