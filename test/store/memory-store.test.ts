import { describe, it, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { MemorySessionStore } from '../../lib/store/memory-session-store.js'
import { encodeData } from '../../lib/protocol/frames.js'
import type { StoredMessage } from '../../lib/store/session-store.js'
import { hashResumeToken } from '../../lib/reliable/resume-token.js'
import { sessionStoreContract } from './contract.js'

const TOKEN_HASH = hashResumeToken('the-token-every-test-session-holds')
/** What every create passes besides the principal and the owner. */
const NEW = { route: '/r', tokenHash: TOKEN_HASH }
/** What every claim passes besides the session, principal and owner (the token stays the same). */
const CLAIM = { route: '/r', tokenHash: TOKEN_HASH, nextTokenHash: TOKEN_HASH }

const stores: MemorySessionStore[] = []

/** A store on a manual clock; closed after each test. */
function storeAt (start = 1_000_000): { store: MemorySessionStore, clock: { now: number } } {
  const clock = { now: start }
  const store = new MemorySessionStore({ now: () => clock.now })
  stores.push(store)
  return { store, clock }
}

function messages (from: number, to: number): StoredMessage[] {
  const list: StoredMessage[] = []
  for (let seq = from; seq <= to; seq++) list.push({ seq, frame: encodeData(seq, `m${seq}`) })
  return list
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()))
})

sessionStoreContract('memory store', async () => {
  const store = new MemorySessionStore({ sweepInterval: 50 })
  stores.push(store)
  return store
})

describe('memory session store', () => {
  it('shares the very frame objects with the caller instead of copying them', async () => {
    const { store } = storeAt()
    const { sessionId } = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
    const frame = Buffer.from('D:1:shared')
    await store.update(sessionId, 'c1', { append: [{ seq: 1, frame }] })
    assert.equal((await store.get(sessionId))?.messages[0].frame, frame)
  })





  it('compacts acknowledged messages without losing the unacknowledged ones', async () => {
    const { store } = storeAt()
    const { sessionId } = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
    await store.update(sessionId, 'c1', { append: messages(1, 3000) })
    await store.update(sessionId, 'c1', { serverAcked: 1500 })
    await store.update(sessionId, 'c1', { serverAcked: 2999 })
    assert.deepEqual((await store.get(sessionId))?.messages, messages(3000, 3000))
    await store.update(sessionId, 'c1', { serverAcked: 3000 })
    assert.deepEqual((await store.get(sessionId))?.messages, [])
  })



  describe('expiry', () => {
    it('expires a released session after sessionTimeout and not before', async () => {
      const { store, clock } = storeAt()
      const created = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
      await store.release(created.sessionId, 'c1', 120_000)
      clock.now += 119_999
      assert.ok(await store.get(created.sessionId))
      clock.now += 1
      assert.equal(await store.get(created.sessionId), undefined)
      const result = await store.claim({ ...CLAIM, sessionId: created.sessionId, epoch: created.epoch, principal: null, ownerId: 'c2' })
      assert.deepEqual(result, { status: 'not-found' })
    })

    it('never expires an attached session, and a claim cancels a pending expiry', async () => {
      const { store, clock } = storeAt()
      const attached = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
      const resumed = await store.create({ ...NEW, principal: null, ownerId: 'c2' })
      await store.release(resumed.sessionId, 'c2', 1000)
      clock.now += 500
      await store.claim({ ...CLAIM, sessionId: resumed.sessionId, epoch: resumed.epoch, principal: null, ownerId: 'c3' })
      clock.now += 10_000_000
      assert.equal(store.sweep(), 0)
      assert.ok(await store.get(attached.sessionId))
      assert.ok(await store.get(resumed.sessionId))
    })

    it('the sweep removes expired sessions without anyone touching them', async () => {
      const { store, clock } = storeAt()
      const a = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
      const b = await store.create({ ...NEW, principal: null, ownerId: 'c2' })
      await store.release(a.sessionId, 'c1', 1000)
      await store.release(b.sessionId, 'c2', 5000)
      clock.now += 1000
      assert.equal(store.sweep(), 1)
      assert.equal(store.size, 1)
      clock.now += 4000
      assert.equal(store.sweep(), 1)
      assert.equal(store.size, 0)
    })

    it('the sweep timer removes expired sessions in real time', async () => {
      const store = new MemorySessionStore({ sweepInterval: 20 })
      stores.push(store)
      const created = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
      await store.release(created.sessionId, 'c1', 30)
      assert.equal(store.size, 1)
      const deadline = Date.now() + 2000
      while (store.size > 0 && Date.now() < deadline) await sleep(10)
      assert.equal(store.size, 0)
    })

  })
})
