import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { RedisSessionStore } from '../../lib/redis.js'
import { hashResumeToken } from '../../lib/reliable/resume-token.js'
import { startRedisServer } from '../helpers/redis-server.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { sessionStoreContract } from './contract.js'

const TOKEN_HASH = hashResumeToken('the-token-every-test-session-holds')
const NEW = { route: '/r', tokenHash: TOKEN_HASH, principal: null }

let server: RedisServer
const stores: RedisSessionStore[] = []
let prefixes = 0

before(async () => { server = await startRedisServer() })
after(async () => { await server.stop() })
afterEach(async () => { await Promise.all(stores.splice(0).map((store) => store.close())) })

async function storeOn (options: { leaseTimeout?: number, commandTimeout?: number, keyPrefix?: string } = {}): Promise<RedisSessionStore> {
  const redis = server.client()
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve))
  const store = new RedisSessionStore({ redis, keyPrefix: `t${++prefixes}:`, ...options })
  stores.push(store)
  return store
}

sessionStoreContract('redis store', () => storeOn())

describe('redis session store', () => {
  it('keeps one session in one Cluster slot: both keys carry the session id as hash tag, each with a TTL', async () => {
    const store = await storeOn({ leaseTimeout: 5000 })
    const { sessionId } = await store.create({ ...NEW, ownerId: 'n1.1' })
    await store.update(sessionId, 'n1.1', { append: [{ seq: 1, frame: 'D1:x' }] })
    const probe = server.client()
    const keys = (await probe.keys(`t${prefixes}:*`)).sort()
    assert.deepEqual(keys, [`t${prefixes}:{${sessionId}}:meta`, `t${prefixes}:{${sessionId}}:msgs`])
    for (const key of keys) {
      const ttl = await probe.pttl(key)
      assert.ok(ttl > 0 && ttl <= 5000, `${key} has the lease as TTL (got ${ttl})`)
    }
    assert.equal(await store.release(sessionId, 'n1.1', 120_000), true)
    for (const key of keys) {
      const ttl = await probe.pttl(key)
      assert.ok(ttl > 5000, `a released session lives sessionTimeout (${key}: ${ttl})`)
    }
  })

  it('lets an attached session of a node that stopped renewing expire after the lease', async () => {
    const crashed = await storeOn({ leaseTimeout: 1000 })
    const { sessionId } = await crashed.create({ ...NEW, ownerId: 'n1.1' })
    await crashed.close()
    const other = await storeOn({ keyPrefix: `t${prefixes}:` })
    assert.ok(await other.get(sessionId))
    const deadline = Date.now() + 10_000
    while (await other.get(sessionId) !== undefined && Date.now() < deadline) await sleep(100)
    assert.equal(await other.get(sessionId), undefined)
  })

  it('renews the lease of the sessions it holds while they are idle', async () => {
    const store = await storeOn({ leaseTimeout: 1000 })
    const { sessionId } = await store.create({ ...NEW, ownerId: 'n1.1' })
    await sleep(2500)
    assert.ok(await store.get(sessionId), 'still there after two and a half leases')
  })

  it('keeps renewing the lease of a session whose release failed, so it does not expire before its node ends it', async () => {
    const redis = server.client()
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve))
    const keyPrefix = `t${++prefixes}:`
    const store = new RedisSessionStore({ redis, keyPrefix, leaseTimeout: 1000 })
    stores.push(store)
    const { sessionId } = await store.create({ ...NEW, ownerId: 'n1.1' })
    // The connection drops just as the client goes away: the release cannot reach Redis.
    const closed = new Promise((resolve) => redis.once('close', resolve))
    redis.disconnect(true)
    await closed
    await assert.rejects(store.release(sessionId, 'n1.1', 120_000), { code: 'FRWS_ERR_STORE_UNAVAILABLE' })
    await new Promise((resolve) => redis.once('ready', resolve))
    await sleep(2500)
    const other = await storeOn({ keyPrefix })
    assert.ok(await other.get(sessionId), 'still there after two and a half leases: its node keeps renewing it')
    assert.equal(await store.delete(sessionId, 'n1.1'), true, 'the node ends it when its own timer says so')
  })

  it('fails with FRWS_ERR_STORE_UNAVAILABLE while Redis is down, and works again once it is back', async () => {
    const store = await storeOn({ commandTimeout: 500 })
    const { sessionId } = await store.create({ ...NEW, ownerId: 'n1.1' })
    await server.crash()
    try {
      await assert.rejects(store.get(sessionId), { code: 'FRWS_ERR_STORE_UNAVAILABLE' })
      await assert.rejects(store.create({ ...NEW, ownerId: 'n1.2' }), { code: 'FRWS_ERR_STORE_UNAVAILABLE' })
    } finally {
      await server.start()
    }
    const deadline = Date.now() + 10_000
    let created
    while (created === undefined && Date.now() < deadline) {
      created = await store.create({ ...NEW, ownerId: 'n1.3' }).catch(() => undefined)
      if (created === undefined) await sleep(100)
    }
    assert.ok(created, 'the store recovers once Redis is back')
    // The restarted server had no persistence: the old session is gone, and says so plainly.
    assert.equal(await store.get(sessionId), undefined)
  })
})
