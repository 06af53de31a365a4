import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { isValidEpoch, isValidSessionId } from '../../lib/protocol/handshake.js'
import { encodeData } from '../../lib/protocol/frames.js'
import type { SessionStore, StoredMessage } from '../../lib/store/session-store.js'
import { hashResumeToken } from '../../lib/reliable/resume-token.js'

const TOKEN_HASH = hashResumeToken('the-token-every-test-session-holds')
/** What every create passes besides the principal and the owner. */
const NEW = { route: '/r', tokenHash: TOKEN_HASH }
/** What every claim passes besides the session, principal and owner (the token stays the same). */
const CLAIM = { route: '/r', tokenHash: TOKEN_HASH, nextTokenHash: TOKEN_HASH }

function messages (from: number, to: number): StoredMessage[] {
  const list: StoredMessage[] = []
  for (let seq = from; seq <= to; seq++) list.push({ seq, frame: encodeData(seq, `m${seq}`) })
  return list
}

/**
 * The contract of `SessionStore` (lib/store/session-store.ts) as one set of tests, run against
 * every store: `make` returns a fresh store (the caller closes it after each test).
 */
export function sessionStoreContract (name: string, make: () => Promise<SessionStore>): void {
  describe(`${name}: session store contract`, () => {
  it('creates sessions with distinct valid ids and epochs at position zero', async () => {
    const store = await make()
    const a = await store.create({ ...NEW, principal: 'alice', ownerId: 'c1' })
    const b = await store.create({ ...NEW, principal: 'alice', ownerId: 'c2' })
    assert.notEqual(a.sessionId, b.sessionId)
    assert.ok(isValidSessionId(a.sessionId))
    assert.ok(isValidEpoch(a.epoch))
    assert.deepEqual({ ...a, sessionId: '', epoch: '' }, {
      sessionId: '', epoch: '', route: '/r', principal: 'alice', clientDelivered: 0, serverAcked: 0, serverSeq: 0, messages: []
    })
  })

  it('keeps appended messages until acknowledged and returns them in order', async () => {
    const store = await make()
    const { sessionId } = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
    assert.equal(await store.update(sessionId, 'c1', { append: messages(1, 3) }), true)
    assert.equal(await store.update(sessionId, 'c1', { append: messages(4, 5), serverAcked: 2, clientDelivered: 9 }), true)
    const state = await store.get(sessionId)
    assert.equal(state?.serverSeq, 5)
    assert.equal(state?.serverAcked, 2)
    assert.equal(state?.clientDelivered, 9)
    assert.deepEqual(state?.messages, messages(3, 5))
  })

  it('returns copies that callers cannot use to change the store', async () => {
    const store = await make()
    const { sessionId } = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
    await store.update(sessionId, 'c1', { append: messages(1, 1) })
    const state = await store.get(sessionId)
    state?.messages.pop()
    assert.equal((await store.get(sessionId))?.messages.length, 1)
  })

  it('rejects patches that break ordering and leaves the session unchanged', async () => {
    const store = await make()
    const { sessionId } = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
    await store.update(sessionId, 'c1', { append: messages(1, 2), clientDelivered: 4 })
    await assert.rejects(store.update(sessionId, 'c1', { append: messages(4, 4) }), /appended seq 4 does not follow 2/)
    await assert.rejects(store.update(sessionId, 'c1', { append: messages(3, 3), serverAcked: 4 }), /serverAcked 4 must be between 0 and 3/)
    await assert.rejects(store.update(sessionId, 'c1', { clientDelivered: 3 }), /clientDelivered 3 is below 4/)
    const state = await store.get(sessionId)
    assert.equal(state?.serverSeq, 2)
    assert.equal(state?.messages.length, 2)
  })


  describe('claim', () => {
    it('hands the session to the resuming connection and reports the previous owner', async () => {
      const store = await make()
      const created = await store.create({ ...NEW, principal: 'alice', ownerId: 'c1' })
      await store.update(created.sessionId, 'c1', { append: messages(1, 2), clientDelivered: 5 })
      await store.release(created.sessionId, 'c1', 120_000)
      const result = await store.claim({ ...CLAIM, sessionId: created.sessionId, epoch: created.epoch, principal: 'alice', ownerId: 'c2' })
      assert.equal(result.status, 'claimed')
      assert.ok(result.status === 'claimed')
      assert.equal(result.previousOwner, 'c1')
      assert.equal(result.previousAttached, false)
      assert.equal(result.state.clientDelivered, 5)
      assert.deepEqual(result.state.messages, messages(1, 2))
    })

    it('fences the previous owner out once another connection claims the session', async () => {
      const store = await make()
      const created = await store.create({ ...NEW, principal: 'alice', ownerId: 'c1' })
      const result = await store.claim({ ...CLAIM, sessionId: created.sessionId, epoch: created.epoch, principal: 'alice', ownerId: 'c2' })
      assert.ok(result.status === 'claimed')
      assert.equal(result.previousAttached, true, 'c1 never released: its connection may still be open (close it with 4409)')
      assert.equal(await store.update(created.sessionId, 'c1', { clientDelivered: 1 }), false)
      assert.equal(await store.release(created.sessionId, 'c1', 1000), false)
      assert.equal(await store.delete(created.sessionId, 'c1'), false)
      assert.equal(await store.update(created.sessionId, 'c2', { clientDelivered: 1 }), true)
    })

    it('lets only one of two concurrent claims end up owning the session', async () => {
      const store = await make()
      const created = await store.create({ ...NEW, principal: 'alice', ownerId: 'c1' })
      const input = { sessionId: created.sessionId, epoch: created.epoch, principal: 'alice' }
      const [first, second] = await Promise.all([
        store.claim({ ...CLAIM, ...input, ownerId: 'c2' }),
        store.claim({ ...CLAIM, ...input, ownerId: 'c3' })
      ])
      assert.ok(first.status === 'claimed' && second.status === 'claimed')
      assert.equal(first.previousOwner, 'c1')
      assert.equal(second.previousOwner, 'c2')
      assert.equal(await store.update(created.sessionId, 'c2', {}), false)
      assert.equal(await store.update(created.sessionId, 'c3', {}), true)
    })

    it('reports an unknown session as not found', async () => {
      const store = await make()
      assert.deepEqual(await store.claim({ ...CLAIM, sessionId: 'nope', epoch: 'e', principal: null, ownerId: 'c1' }), { status: 'not-found' })
    })

    it('reports another epoch as a mismatch without taking ownership', async () => {
      const store = await make()
      const created = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
      const result = await store.claim({ ...CLAIM, sessionId: created.sessionId, epoch: created.epoch + 'x', principal: null, ownerId: 'c2' })
      assert.deepEqual(result, { status: 'epoch-mismatch' })
      assert.equal(await store.update(created.sessionId, 'c1', {}), true)
    })

    it('refuses another principal and leaves the session with its owner', async () => {
      const store = await make()
      const created = await store.create({ ...NEW, principal: 'alice', ownerId: 'c1' })
      for (const principal of ['mallory', null]) {
        const result = await store.claim({ ...CLAIM, sessionId: created.sessionId, epoch: created.epoch, principal, ownerId: 'c2' })
        assert.deepEqual(result, { status: 'forbidden' })
      }
      assert.equal(await store.update(created.sessionId, 'c1', {}), true)
    })
  })

  describe('resume token and route', () => {
    it('refuses a wrong token, another route, and leaves the session with its owner', async () => {
      const store = await make()
      const created = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
      const resume = { ...CLAIM, sessionId: created.sessionId, epoch: created.epoch, principal: null, ownerId: 'c2' }
      assert.deepEqual(await store.claim({ ...resume, tokenHash: hashResumeToken('a-guess-at-the-token-000') }), { status: 'token-mismatch' })
      assert.deepEqual(await store.claim({ ...resume, route: '/other' }), { status: 'wrong-route' })
      assert.equal(await store.update(created.sessionId, 'c1', {}), true, 'c1 still owns the session')
      assert.equal((await store.claim(resume)).status, 'claimed', 'the current token still works')
    })

    it('checks the token before anything else a resume could learn from', async () => {
      const store = await make()
      const created = await store.create({ ...NEW, principal: 'alice', ownerId: 'c1' })
      const wrong = hashResumeToken('a-guess-at-the-token-000')
      const result = await store.claim({ route: '/other', tokenHash: wrong, nextTokenHash: wrong, sessionId: created.sessionId, epoch: 'x', principal: 'mallory', ownerId: 'c2' })
      assert.deepEqual(result, { status: 'token-mismatch' })
    })

    it('rotates the token on every claim: the previous one is refused, the new one works', async () => {
      const store = await make()
      const first = hashResumeToken('first-token-of-the-session')
      const second = hashResumeToken('second-token-of-the-session')
      const third = hashResumeToken('third-token-of-the-session')
      const created = await store.create({ route: '/r', tokenHash: first, principal: null, ownerId: 'c1' })
      const resume = { route: '/r', sessionId: created.sessionId, epoch: created.epoch, principal: null }
      assert.equal((await store.claim({ ...resume, tokenHash: first, nextTokenHash: second, ownerId: 'c2' })).status, 'claimed')
      assert.deepEqual(await store.claim({ ...resume, tokenHash: first, nextTokenHash: third, ownerId: 'c3' }), { status: 'token-mismatch' })
      assert.equal(await store.update(created.sessionId, 'c2', {}), true, 'the replayed token did not take the session from c2')
      assert.equal((await store.claim({ ...resume, tokenHash: second, nextTokenHash: third, ownerId: 'c4' })).status, 'claimed')
    })

    it('lets only the first of two concurrent claims with the same token succeed', async () => {
      const store = await make()
      const created = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
      const resume = { route: '/r', sessionId: created.sessionId, epoch: created.epoch, principal: null, tokenHash: TOKEN_HASH }
      const [a, b] = await Promise.all([
        store.claim({ ...resume, nextTokenHash: hashResumeToken('next-token-of-claim-a'), ownerId: 'c2' }),
        store.claim({ ...resume, nextTokenHash: hashResumeToken('next-token-of-claim-b'), ownerId: 'c3' })
      ])
      assert.deepEqual([a.status, b.status], ['claimed', 'token-mismatch'])
    })
  })

  describe('expiry', () => {




    it('delete removes a session for its owner only', async () => {
      const store = await make()
      const created = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
      assert.equal(await store.delete(created.sessionId, 'c2'), false)
      assert.equal(await store.delete(created.sessionId, 'c1'), true)
      assert.equal(await store.get(created.sessionId), undefined)
      assert.equal(await store.delete(created.sessionId, 'c1'), false)
    })
  })

  it('skips messages it already holds, so a write retried after a timeout succeeds', async () => {
    const store = await make()
    const { sessionId } = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
    await store.update(sessionId, 'c1', { append: messages(1, 2), clientDelivered: 1 })
    assert.equal(await store.update(sessionId, 'c1', { append: messages(1, 4), clientDelivered: 3 }), true)
    const state = await store.get(sessionId)
    assert.equal(state?.serverSeq, 4)
    assert.equal(state?.clientDelivered, 3)
    assert.deepEqual(state?.messages, messages(1, 4))
  })

  it('keeps the kind and bytes of text and binary frames', async () => {
    const store = await make()
    const { sessionId } = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
    const binary = Buffer.from([0x44, 0, 1, 0xff, 0x80])
    const text = 'D:2:héllo \u{1F600}'
    await store.update(sessionId, 'c1', { append: [{ seq: 1, frame: binary }, { seq: 2, frame: text }] })
    const [first, second] = (await store.get(sessionId))?.messages ?? []
    assert.ok(first.frame instanceof Uint8Array, 'a binary frame comes back as bytes')
    assert.deepEqual(Buffer.from(first.frame), binary)
    assert.equal(second.frame, text)
  })

  it('keeps many messages and drops acknowledged ones in order', async () => {
    const store = await make()
    const { sessionId } = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
    await store.update(sessionId, 'c1', { append: messages(1, 3000) })
    await store.update(sessionId, 'c1', { serverAcked: 1500 })
    await store.update(sessionId, 'c1', { serverAcked: 2999 })
    assert.deepEqual((await store.get(sessionId))?.messages, messages(3000, 3000))
    await store.update(sessionId, 'c1', { serverAcked: 3000 })
    assert.deepEqual((await store.get(sessionId))?.messages, [])
  })

  it('expires a released session after sessionTimeout and not before (real time)', async () => {
    const store = await make()
    const created = await store.create({ ...NEW, principal: null, ownerId: 'c1' })
    await store.update(created.sessionId, 'c1', { append: messages(1, 1) })
    const releasedAt = Date.now()
    await store.release(created.sessionId, 'c1', 400)
    const early = await store.get(created.sessionId)
    if (Date.now() - releasedAt < 400) assert.ok(early, 'still there before sessionTimeout')
    // The owner still appends while the client is away; that does not extend the expiry.
    await store.update(created.sessionId, 'c1', { append: messages(2, 2) })
    const deadline = Date.now() + 10_000
    while (await store.get(created.sessionId) !== undefined && Date.now() < deadline) await sleep(50)
    assert.ok(Date.now() - releasedAt >= 400, 'not earlier than sessionTimeout')
    assert.equal(await store.get(created.sessionId), undefined)
    const result = await store.claim({ ...CLAIM, sessionId: created.sessionId, epoch: created.epoch, principal: null, ownerId: 'c2' })
    assert.deepEqual(result, { status: 'not-found' })
  })

  it('a claim cancels a pending expiry', async () => {
    const store = await make()
    const resumed = await store.create({ ...NEW, principal: null, ownerId: 'c2' })
    await store.release(resumed.sessionId, 'c2', 300)
    await store.claim({ ...CLAIM, sessionId: resumed.sessionId, epoch: resumed.epoch, principal: null, ownerId: 'c3' })
    await sleep(600)
    assert.ok(await store.get(resumed.sessionId))
  })
  })
}
