import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import { addressKey } from '../../lib/admission/address-key.js'
import { UpgradeRateLimiter } from '../../lib/admission/upgrade-rate.js'
import { HeldSockets } from '../../lib/held-sockets.js'
import Fastify from 'fastify'
import fastifyReliableWs from '../../lib/index.js'
import type { FastifyReliableWsOptions } from '../../lib/index.js'
import { resolveOptions } from '../../lib/options.js'
import { buildApp, cleanup, echoRoute, listen, rawUpgrade } from '../helpers/server.js'
import type { RawUpgrade } from '../helpers/server.js'

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

describe('admission options', () => {
  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['maxConnectionsPerAddress: 0', { maxConnectionsPerAddress: 0 }, 'maxConnectionsPerAddress'],
    ["maxConnectionsPerAddress: '5'", { maxConnectionsPerAddress: '5' }, 'maxConnectionsPerAddress'],
    ['upgradeRate: true', { upgradeRate: true }, 'upgradeRate'],
    ['upgradeRate.perAddress: 0', { upgradeRate: { perAddress: 0 } }, 'upgradeRate.perAddress'],
    ['upgradeRate.interval: 0.5', { upgradeRate: { interval: 0.5 } }, 'upgradeRate.interval'],
    ['upgradeRate: an unknown key', { upgradeRate: { burst: 5 } }, 'upgradeRate.burst']
  ]
  for (const [title, options, name] of invalid) {
    test(`registration fails with FRWS_ERR_OPTION_INVALID naming the option for ${title}`, async (t) => {
      const app = Fastify({ logger: false })
      t.after(() => cleanup(app))
      await assert.rejects(
        async () => { await app.register(fastifyReliableWs, options as FastifyReliableWsOptions) },
        { code: 'FRWS_ERR_OPTION_INVALID', message: new RegExp(`"${name.replace('.', '\\.')}"`) }
      )
    })
  }

  test('defaults: 1000 connections per address, 100 upgrades per address per 10 s; Infinity and false turn them off', () => {
    const defaults = resolveOptions({})
    assert.equal(defaults.maxConnectionsPerAddress, 1000)
    assert.deepEqual(defaults.upgradeRate, { perAddress: 100, interval: 10_000 })
    assert.deepEqual(resolveOptions({ upgradeRate: { perAddress: 5 } }).upgradeRate, { perAddress: 5, interval: 10_000 })
    const off = resolveOptions({ maxConnectionsPerAddress: Infinity, upgradeRate: false })
    assert.equal(off.maxConnectionsPerAddress, Infinity)
    assert.equal(off.upgradeRate, false)
  })

  test('with the default upgradeRate an address gets 100 upgrades at once (plus the refill), then 429 with Retry-After: 1', async (t) => {
    const app = await buildApp({}, echoRoute)
    t.after(() => cleanup(app))
    const url = `${await listen(app)}/ws`
    const started = Date.now()
    let admitted = 0
    let refused: RawUpgrade | undefined
    while (refused === undefined && admitted < 1000) {
      const upgrades = await Promise.all(Array.from({ length: 25 }, () => rawUpgrade(url)))
      for (const upgrade of upgrades) {
        upgrade.socket.destroy()
        if (upgrade.status === 101) admitted++
        else refused ??= upgrade
      }
    }
    // The bucket refills at 100 per 10 s, one upgrade every 100 ms, while the burst runs.
    const refilled = Math.ceil((Date.now() - started) / 100)
    assert.ok(admitted >= 100 && admitted <= 100 + refilled, `admitted ${admitted} in a burst of ${Date.now() - started} ms`)
    assert.equal(refused?.status, 429)
    assert.match(refused?.head ?? '', /^retry-after: 1$/im)
  })
})
