import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import { addressKey } from '../../lib/admission/address-key.js'
import { UpgradeRateLimiter } from '../../lib/admission/upgrade-rate.js'
import { HeldSockets } from '../../lib/held-sockets.js'

describe('addressKey', () => {
  test('an IPv4 address is its own key', () => {
    assert.equal(addressKey('203.0.113.7'), '203.0.113.7')
  })

  test('an IPv4-mapped IPv6 address counts as the IPv4 address', () => {
    assert.equal(addressKey('::ffff:203.0.113.7'), '203.0.113.7')
    assert.equal(addressKey('::FFFF:127.0.0.1'), '127.0.0.1')
  })

  test('IPv6 addresses of one /64 share a key, whatever their spelling', () => {
    const key = addressKey('2001:db8:aa:1::1')
    assert.equal(key, '2001:db8:aa:1::/64')
    assert.equal(addressKey('2001:0db8:00aa:0001:ffff:ffff:ffff:ffff'), key)
    assert.equal(addressKey('2001:DB8:AA:1:0:0:0:9'), key)
    assert.equal(addressKey('2001:db8:aa:1::1%eth0'), key, 'a zone index does not matter')
    assert.notEqual(addressKey('2001:db8:aa:2::1'), key, 'the next /64 is another key')
  })

  test('compressed forms expand before the prefix is taken', () => {
    assert.equal(addressKey('::1'), '0:0:0:0::/64')
    assert.equal(addressKey('2001:db8::'), '2001:db8:0:0::/64')
    assert.equal(addressKey('fe80::1:2:3:4'), 'fe80:0:0:0::/64')
    assert.equal(addressKey('1:2:3::4:5:6'), '1:2:3:0::/64')
    assert.equal(addressKey('64:ff9b::192.0.2.33'), '64:ff9b:0:0::/64')
  })

  test('an unknown address (an injected request) is the empty key', () => {
    assert.equal(addressKey(undefined), '')
    assert.equal(addressKey(''), '')
  })
})

describe('UpgradeRateLimiter', () => {
  test('an address gets perAddress upgrades at once, then one back every interval / perAddress', () => {
    let now = 1_000_000
    const limiter = new UpgradeRateLimiter(4, 2000, () => now)
    for (let i = 0; i < 4; i++) assert.equal(limiter.take('a').retryAfter, 0, `upgrade ${i + 1}`)
    const refused = limiter.take('a')
    assert.deepEqual(refused, { retryAfter: 500, firstRefusal: true })
    assert.equal(limiter.take('b').retryAfter, 0, 'another address has its own bucket')
    now += 250
    assert.deepEqual(limiter.take('a'), { retryAfter: 250, firstRefusal: false }, 'only the first refusal asks for a warn line')
    now += 250
    assert.equal(limiter.take('a').retryAfter, 0, 'one token back after interval / perAddress')
    assert.equal(limiter.take('a').firstRefusal, true, 'a new run of refusals starts with a first refusal')
  })

  test('a bucket never holds more than perAddress tokens', () => {
    let now = 0
    const limiter = new UpgradeRateLimiter(2, 1000, () => now)
    limiter.take('a')
    now += 60_000
    assert.equal(limiter.take('a').retryAfter, 0)
    assert.equal(limiter.take('a').retryAfter, 0)
    assert.ok(limiter.take('a').retryAfter > 0, 'a long pause does not bank more than perAddress')
  })

  test('buckets untouched for an interval are dropped: memory follows the recent addresses only', () => {
    let now = 0
    const limiter = new UpgradeRateLimiter(5, 1000, () => now)
    for (let i = 0; i < 1000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`)
    assert.equal(limiter.size, 1000)
    now += 1000
    limiter.take('192.0.2.1')
    assert.equal(limiter.size, 1, 'the full buckets were swept')
    now += 500
    limiter.take('192.0.2.2')
    assert.equal(limiter.size, 2, 'no sweep before an interval has passed')
  })
})

describe('HeldSockets', () => {
  function request (): IncomingMessage {
    return new PassThrough() as unknown as IncomingMessage
  }

  test('counts each socket until it closes, and per address only what admission counted', async () => {
    const released: IncomingMessage[] = []
    const held = new HeldSockets((r) => released.push(r))
    const sockets = [new PassThrough(), new PassThrough(), new PassThrough()]
    const requests = sockets.map(() => request())
    sockets.forEach((socket, i) => assert.equal(held.add(requests[i], socket), true))
    held.countAgainst(requests[0], 'a')
    held.countAgainst(requests[1], 'a')
    held.countAgainst(requests[1], 'a')
    assert.equal(held.size, 3)
    assert.equal(held.countOf('a'), 2, 'counting one request twice counts it once')

    const empty = held.whenEmpty()
    for (const socket of sockets) socket.destroy()
    await empty
    assert.equal(held.size, 0)
    assert.equal(held.countOf('a'), 0)
    assert.equal(held.addressCount, 0, 'an address that holds nothing leaves the map')
    assert.deepEqual(new Set(released), new Set(requests))
  })

  test('a socket already destroyed at arrival is not held', () => {
    const held = new HeldSockets(() => {})
    const socket = new PassThrough()
    socket.destroy()
    assert.equal(held.add(request(), socket), false)
    assert.equal(held.size, 0)
  })

  test('destroyAll destroys every held socket', async () => {
    const held = new HeldSockets(() => {})
    const sockets = [new PassThrough(), new PassThrough()]
    for (const socket of sockets) held.add(request(), socket)
    assert.equal(held.destroyAll(), 2)
    await held.whenEmpty()
    assert.ok(sockets.every((socket) => socket.destroyed))
  })
})
