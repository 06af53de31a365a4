/**
 * SessionWriter against a real MemorySessionStore (through faultyStore for failures, and a gate
 * that holds store updates until the test lets them go): one update per turn, one write in flight,
 * failed writes put back in front and retried with capped backoff, ownership, stop() and flush().
 * Written from the survivors of the mutation run of lib/reliable/session-writer.ts (docs/TESTING.md).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MemorySessionStore } from '../../lib/index.js'
import { faultyStore } from '../../lib/testing/index.js'
import type { FaultyStore } from '../../lib/testing/index.js'
import { SessionWriter } from '../../lib/reliable/session-writer.js'
import type { CommittedPosition, SessionWriterHost } from '../../lib/reliable/session-writer.js'
import type {
  ClaimResult, ClaimSessionInput, CreateSessionInput, SessionPatch, SessionState, SessionStore
} from '../../lib/store/session-store.js'

const TIMEOUT = { timeout: 20_000 }

/** A copy of a patch with only the keys it has (the writer's arrays are its own). */
function copyPatch (patch: SessionPatch): SessionPatch {
  const copy: SessionPatch = {}
  if (patch.append !== undefined) copy.append = patch.append.map((message) => ({ ...message }))
  if (patch.serverAcked !== undefined) copy.serverAcked = patch.serverAcked
  if (patch.clientDelivered !== undefined) copy.clientDelivered = patch.clientDelivered
  return copy
}

/** A store that records every update and, while `holding`, keeps each one waiting until `releaseOne()`. */
class GatedStore implements SessionStore {
  readonly updates: Array<{ ownerId: string, patch: SessionPatch }> = []
  holding = false
  readonly #waiting: Array<() => void> = []
  readonly #inner: SessionStore

  constructor (inner: SessionStore) {
    this.#inner = inner
  }

  get waiting (): number {
    return this.#waiting.length
  }

  releaseOne (): void {
    const next = this.#waiting.shift()
    assert.ok(next !== undefined, 'an update is waiting at the gate')
    next()
  }

  async update (sessionId: string, ownerId: string, patch: SessionPatch): Promise<boolean> {
    this.updates.push({ ownerId, patch: copyPatch(patch) })
    if (this.holding) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    return await this.#inner.update(sessionId, ownerId, patch)
  }

  async create (input: CreateSessionInput): Promise<SessionState> { return await this.#inner.create(input) }
  async claim (input: ClaimSessionInput): Promise<ClaimResult> { return await this.#inner.claim(input) }
  async release (sessionId: string, ownerId: string, timeout: number): Promise<boolean> { return await this.#inner.release(sessionId, ownerId, timeout) }
  async delete (sessionId: string, ownerId: string): Promise<boolean> { return await this.#inner.delete(sessionId, ownerId) }
  async get (sessionId: string): Promise<SessionState | undefined> { return await this.#inner.get(sessionId) }
  async close (): Promise<void> { await this.#inner.close() }
}

/** What the writer reported, in order. */
class RecordingHost implements SessionWriterHost {
  readonly events: string[] = []
  readonly failures: Array<{ error: unknown, retryDelay: number }> = []
  storeSuperseded (): void { this.events.push('superseded') }
  storeWriteFailed (error: unknown, retryDelay: number): void {
    this.events.push('failed')
    this.failures.push({ error, retryDelay })
  }

  storeCommitted (): void { this.events.push('committed') }
  count (event: string): number { return this.events.filter((e) => e === event).length }
}

interface Rig {
  memory: MemorySessionStore
  faulty: FaultyStore
  gated: GatedStore
  host: RecordingHost
  sessionId: string
  epoch: string
  writer: SessionWriter
}

async function rig (options: { owner?: string, writerOwner?: string, committed?: CommittedPosition } = {}): Promise<Rig> {
  const memory = new MemorySessionStore()
  const faulty = faultyStore(memory)
  const gated = new GatedStore(faulty)
  const state = await memory.create({ route: 'r', principal: null, tokenHash: 'hash-1', ownerId: options.owner ?? 'owner-1' })
  const host = new RecordingHost()
  const writer = new SessionWriter(gated, state.sessionId, options.writerOwner ?? options.owner ?? 'owner-1',
    options.committed ?? { clientDelivered: 0, serverSeq: 0 }, host)
  return { memory, faulty, gated, host, sessionId: state.sessionId, epoch: state.epoch, writer }
}

/** A few turns of the event loop: every setImmediate queued before has run. */
async function turns (count = 3): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

async function until (predicate: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (predicate()) return
    await new Promise<void>((resolve) => setTimeout(resolve, 1))
  }
  assert.fail(`timed out waiting for ${what}`)
}

describe('SessionWriter (mutation survivors)', () => {
  test('writes every change of one turn in a single update, with each position at its highest', TIMEOUT, async () => {
    const { gated, host, memory, sessionId, writer } = await rig()
    writer.appended(1, 'a')
    writer.appended(2, 'b')
    writer.acked(2)
    writer.acked(1)
    writer.delivered(3)
    writer.delivered(2)
    assert.equal(gated.updates.length, 0, 'nothing is written in the same turn')
    await until(() => host.count('committed') === 1, 'the commit')
    assert.deepEqual(gated.updates, [{
      ownerId: 'owner-1',
      patch: { append: [{ seq: 1, frame: 'a' }, { seq: 2, frame: 'b' }], serverAcked: 2, clientDelivered: 3 }
    }])
    assert.deepEqual(writer.committed, { clientDelivered: 3, serverSeq: 2 })
    const stored = await memory.get(sessionId)
    assert.equal(stored?.serverSeq, 2)
    assert.equal(stored?.serverAcked, 2)
    assert.equal(stored?.clientDelivered, 3)
    assert.deepEqual(host.events, ['committed'])
  })

  test('a patch carries only what changed, position 0 included', TIMEOUT, async () => {
    const { gated, host, writer } = await rig()
    writer.appended(1, 'a')
    await writer.flush()
    writer.delivered(0)
    await writer.flush()
    writer.acked(0)
    await writer.flush()
    writer.acked(1)
    await writer.flush()
    assert.deepEqual(gated.updates.map((u) => u.patch), [
      { append: [{ seq: 1, frame: 'a' }] },
      { clientDelivered: 0 },
      { serverAcked: 0 },
      { serverAcked: 1 }
    ])
    assert.equal(host.count('committed'), 4)
    assert.equal(host.count('failed'), 0)
  })

  test('starts from a copy of the committed position and moves only the parts a commit recorded', TIMEOUT, async () => {
    const start = { clientDelivered: 4, serverSeq: 0 }
    const { host, writer } = await rig({ committed: start })
    start.clientDelivered = 99
    assert.deepEqual(writer.committed, { clientDelivered: 4, serverSeq: 0 })
    writer.appended(1, 'a')
    writer.appended(2, 'b')
    await writer.flush()
    assert.deepEqual(writer.committed, { clientDelivered: 4, serverSeq: 2 }, 'an append moves serverSeq only')
    writer.delivered(6)
    await writer.flush()
    assert.deepEqual(writer.committed, { clientDelivered: 6, serverSeq: 2 }, 'a delivery moves clientDelivered only')
    writer.acked(2)
    await writer.flush()
    assert.deepEqual(writer.committed, { clientDelivered: 6, serverSeq: 2 }, 'an ack moves neither')
    assert.deepEqual(host.events, ['committed', 'committed', 'committed'])
  })

  test('flush() with nothing pending writes nothing and resolves', TIMEOUT, async () => {
    const { gated, host, writer } = await rig()
    await writer.flush()
    await writer.flush()
    assert.equal(gated.updates.length, 0)
    assert.deepEqual(host.events, [])
  })

  test('keeps one write in flight; what piles up meanwhile goes out next, and flush() waits for both', TIMEOUT, async () => {
    const { gated, host, memory, sessionId, writer } = await rig()
    gated.holding = true
    writer.appended(1, 'a')
    await until(() => gated.waiting === 1, 'the first update at the gate')
    writer.appended(2, 'b')
    writer.acked(1)
    writer.delivered(5)
    let flushed = false
    const flushing = writer.flush().then(() => { flushed = true })
    await turns()
    assert.equal(gated.updates.length, 1, 'no second write while one is in flight')
    gated.releaseOne()
    await until(() => gated.waiting === 1, 'the second update at the gate')
    await turns()
    assert.equal(flushed, false, 'flush() still waits: the second write is in flight')
    assert.deepEqual(gated.updates.map((u) => u.patch), [
      { append: [{ seq: 1, frame: 'a' }] },
      { append: [{ seq: 2, frame: 'b' }], serverAcked: 1, clientDelivered: 5 }
    ])
    gated.releaseOne()
    await flushing
    const stored = await memory.get(sessionId)
    assert.equal(stored?.serverSeq, 2)
    assert.equal(stored?.clientDelivered, 5)
    assert.deepEqual(host.events, ['committed', 'committed'])
  })

  test('after a write, a position of 0 alone that piled up meanwhile is written next', TIMEOUT, async () => {
    const { gated, writer } = await rig()
    gated.holding = true
    writer.appended(1, 'a')
    await until(() => gated.waiting === 1, 'the first update at the gate')
    writer.delivered(0)
    gated.releaseOne()
    await until(() => gated.waiting === 1, 'the second update at the gate')
    writer.acked(0)
    gated.releaseOne()
    await until(() => gated.waiting === 1, 'the third update at the gate')
    gated.holding = false
    gated.releaseOne()
    await writer.flush()
    assert.deepEqual(gated.updates.map((u) => u.patch), [
      { append: [{ seq: 1, frame: 'a' }] },
      { clientDelivered: 0 },
      { serverAcked: 0 }
    ])
  })

  test('a failed write goes back in front of what piled up; failures report a backoff of 50 ms doubling to 2,000 ms, reset by a commit', TIMEOUT, async () => {
    const { faulty, gated, host, memory, sessionId, writer } = await rig()
    const errors = Array.from({ length: 8 }, (_, i) => new Error(`update failure ${i}`))
    for (const error of errors) faulty.failNext('update', error)
    writer.appended(1, 'm1')
    await until(() => host.failures.length === 1, 'the first failure')
    for (let seq = 2; seq <= 8; seq++) {
      writer.appended(seq, `m${seq}`)
      // flush() skips the retry timer: it writes now, and resolves once the write failed.
      await writer.flush()
      assert.equal(host.failures.length, seq, `one failure per flush (${seq})`)
    }
    assert.deepEqual(host.failures.map((f) => f.retryDelay), [50, 100, 200, 400, 800, 1600, 2000, 2000])
    assert.deepEqual(host.failures.map((f) => f.error), errors)
    assert.deepEqual(gated.updates.at(-1)?.patch.append?.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8], 'the last try carried everything, oldest first')
    await writer.flush()
    assert.equal(host.count('committed'), 1)
    assert.deepEqual(gated.updates.at(-1)?.patch.append?.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8])
    assert.equal((await memory.get(sessionId))?.serverSeq, 8)
    assert.deepEqual(writer.committed, { clientDelivered: 0, serverSeq: 8 })
    faulty.failNext('update')
    writer.appended(9, 'm9')
    await writer.flush()
    assert.equal(host.failures.at(-1)?.retryDelay, 50, 'a commit resets the backoff')
  })

  test('positions of a failed write are kept, each at its highest', TIMEOUT, async () => {
    const { faulty, gated, host, memory, sessionId, writer } = await rig()
    writer.appended(1, 'a')
    writer.appended(2, 'b')
    await writer.flush()
    faulty.failNext('update')
    writer.acked(2)
    writer.delivered(7)
    await writer.flush()
    assert.equal(host.count('failed'), 1)
    writer.acked(1)
    writer.delivered(3)
    await writer.flush()
    assert.deepEqual(gated.updates.at(-1)?.patch, { serverAcked: 2, clientDelivered: 7 })
    const stored = await memory.get(sessionId)
    assert.equal(stored?.serverAcked, 2)
    assert.equal(stored?.clientDelivered, 7)
    assert.deepEqual(host.events, ['committed', 'failed', 'committed'])
  })

  test('retries a failed write by itself after its delay', TIMEOUT, async () => {
    const { faulty, gated, host, memory, sessionId, writer } = await rig()
    faulty.failNext('update')
    writer.appended(1, 'a')
    await until(() => host.count('committed') === 1, 'the retried commit')
    assert.deepEqual(host.events, ['failed', 'committed'])
    assert.equal(gated.updates.length, 2)
    assert.equal((await memory.get(sessionId))?.serverSeq, 1)
  })

  test('while a retry waits, new changes wait for it instead of being written at once', TIMEOUT, async () => {
    const { faulty, gated, host, writer } = await rig()
    // Seven failures through flush() bring the retry delay to 2,000 ms.
    for (let i = 0; i < 7; i++) faulty.failNext('update')
    writer.appended(1, 'a')
    await until(() => host.failures.length === 1, 'the first failure')
    for (let i = 1; i < 7; i++) await writer.flush()
    assert.equal(host.failures.at(-1)?.retryDelay, 2000)
    const before = gated.updates.length
    writer.appended(2, 'b')
    writer.acked(1)
    await turns(5)
    assert.equal(gated.updates.length, before, 'the change waits for the retry')
    await until(() => host.count('committed') === 1, 'the retry, 2 s later')
    assert.deepEqual(gated.updates.at(-1)?.patch, { append: [{ seq: 1, frame: 'a' }, { seq: 2, frame: 'b' }], serverAcked: 1 })
  })

  test('a write the store refuses (another owner) stops the writer and reports it once', TIMEOUT, async () => {
    const { gated, host, writer } = await rig({ owner: 'owner-1', writerOwner: 'someone-else' })
    writer.appended(1, 'a')
    await until(() => host.events.length > 0, 'the refusal')
    await turns()
    assert.deepEqual(host.events, ['superseded'])
    writer.appended(2, 'b')
    writer.acked(1)
    await writer.flush()
    await turns()
    assert.equal(gated.updates.length, 1, 'nothing is written after the refusal')
    assert.deepEqual(host.events, ['superseded'])
    assert.deepEqual(writer.committed, { clientDelivered: 0, serverSeq: 0 })
  })

  test('a write refused because the session was claimed by this writer under a new owner id is retried under it', TIMEOUT, async () => {
    const { gated, host, memory, sessionId, epoch, writer } = await rig()
    gated.holding = true
    writer.appended(1, 'a')
    await until(() => gated.waiting === 1, 'the first update at the gate')
    const claim = await memory.claim({ sessionId, epoch, tokenHash: 'hash-1', route: 'r', principal: null, ownerId: 'owner-2', nextTokenHash: 'hash-2' })
    assert.equal(claim.status, 'claimed')
    writer.setOwner('owner-2')
    assert.equal(writer.ownerId, 'owner-2')
    gated.holding = false
    gated.releaseOne()
    await writer.flush()
    assert.deepEqual(gated.updates.map((u) => u.ownerId), ['owner-1', 'owner-2'])
    assert.deepEqual(host.events, ['committed'])
    assert.equal((await memory.get(sessionId))?.serverSeq, 1)
  })

  test('stop() during a write: no retry under another owner, no report, nothing more written, and a waiting flush() resolves', TIMEOUT, async () => {
    const { gated, host, memory, sessionId, epoch, writer } = await rig()
    gated.holding = true
    writer.appended(1, 'a')
    await until(() => gated.waiting === 1, 'the first update at the gate')
    // The session now belongs to a third owner: the write in flight is refused.
    await memory.claim({ sessionId, epoch, tokenHash: 'hash-1', route: 'r', principal: null, ownerId: 'owner-3', nextTokenHash: 'hash-2' })
    writer.setOwner('owner-2')
    writer.appended(2, 'b')
    const flushing = writer.flush()
    writer.stop()
    await flushing
    gated.holding = false
    gated.releaseOne()
    await turns()
    writer.acked(1)
    await writer.flush()
    await turns()
    assert.deepEqual(gated.updates.map((u) => u.ownerId), ['owner-1'])
    assert.deepEqual(host.events, [])
  })

  test('stop() during a write that then commits or fails reports neither', TIMEOUT, async () => {
    for (const outcome of ['commits', 'fails']) {
      const { faulty, gated, host, writer } = await rig()
      if (outcome === 'fails') faulty.failNext('update')
      gated.holding = true
      writer.appended(1, 'a')
      await until(() => gated.waiting === 1, 'the update at the gate')
      writer.stop()
      gated.holding = false
      gated.releaseOne()
      // A retry would come 50 ms after a failure; this timer, started later and due later, runs after it.
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.deepEqual(host.events, [], outcome)
      assert.equal(gated.updates.length, 1, outcome)
      assert.deepEqual(writer.committed, { clientDelivered: 0, serverSeq: 0 }, outcome)
    }
  })

  test('flush() during a retry wait writes at once and cancels the retry: later changes go out in the next turn', TIMEOUT, async () => {
    const { faulty, gated, host, writer } = await rig()
    // Seven failures bring the retry delay to 2,000 ms.
    for (let i = 0; i < 7; i++) faulty.failNext('update')
    writer.appended(1, 'a')
    await until(() => host.failures.length === 1, 'the first failure')
    for (let i = 1; i < 7; i++) await writer.flush()
    assert.equal(host.failures.at(-1)?.retryDelay, 2000)
    await writer.flush()
    assert.deepEqual(host.events.slice(-1), ['committed'])
    const before = gated.updates.length
    writer.appended(2, 'b')
    await turns(3)
    assert.equal(gated.updates.length, before + 1, 'written in the next turn, not after the cancelled retry')
    assert.deepEqual(gated.updates.at(-1)?.patch, { append: [{ seq: 2, frame: 'b' }] })
  })

  test('after a write, messages alone that piled up meanwhile are written next, without another trigger', TIMEOUT, async () => {
    const { gated, host, writer } = await rig()
    gated.holding = true
    writer.appended(1, 'a')
    await until(() => gated.waiting === 1, 'the first update at the gate')
    writer.appended(2, 'b')
    gated.holding = false
    gated.releaseOne()
    await turns(5)
    assert.deepEqual(gated.updates.map((u) => u.patch), [
      { append: [{ seq: 1, frame: 'a' }] },
      { append: [{ seq: 2, frame: 'b' }] }
    ])
    assert.deepEqual(host.events, ['committed', 'committed'])
  })

  test('a failed write of messages alone leaves the positions that come later intact', TIMEOUT, async () => {
    const { faulty, gated, memory, sessionId, writer } = await rig()
    faulty.failNext('update')
    writer.appended(1, 'a')
    await writer.flush()
    writer.delivered(2)
    writer.acked(1)
    await writer.flush()
    assert.deepEqual(gated.updates.at(-1)?.patch, { append: [{ seq: 1, frame: 'a' }], serverAcked: 1, clientDelivered: 2 })
    const stored = await memory.get(sessionId)
    assert.equal(stored?.clientDelivered, 2)
    assert.equal(stored?.serverAcked, 1)
  })
})
