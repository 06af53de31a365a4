// Memory-measured tests of the session budget: the fixture app runs in a child process whose
// memory is read after a full gc (test/helpers/child-server.ts).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startChildServer } from '../helpers/child-server.js'
import type { ChildServer } from '../helpers/child-server.js'
import { dropSession, openRawSession } from '../helpers/raw-session.js'
import type { RawSession } from '../helpers/raw-session.js'
import { nextEvent, startClient } from '../helpers/client-peer.js'
import { MESSAGE_OVERHEAD, SESSION_OVERHEAD } from '../../lib/reliable/session-budget.js'
import { CloseCode } from '../../lib/index.js'

const fixture = new URL('../helpers/fixtures/session-budget.ts', import.meta.url)
const MiB = 1024 * 1024
/** Limits that never trigger, to measure what sessions really cost. */
const UNLIMITED = { maxTotalBytes: 2 ** 30, maxSessionBytes: 2 ** 26, maxSuspended: 1e6, maxSuspendedPerAddress: 1e6, unackedSessionTimeout: 600_000 }

async function heldMemory (server: ChildServer): Promise<number> {
  const memory = await server.memory()
  return memory.dataHeapUsed + memory.external
}

async function stats (server: ChildServer): Promise<{ attached: number, suspended: number, heldBytes: number, unacked: number, endedByCause: Record<string, number> }> {
  return await server.stats() as never
}

/** Open `count` sessions on `path` in batches, wait for `frames` frames on each, and drop them all. */
async function feedAndDrop (server: ChildServer, path: string, count: number, frames: number): Promise<RawSession[]> {
  const sessions: RawSession[] = []
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, count - i) }, async () => {
      const session = await openRawSession(`${server.url}${path}`)
      await session.waitFrames(frames)
      return session
    }))
    await Promise.all(batch.map(dropSession))
    sessions.push(...batch)
  }
  return sessions
}

async function waitForStats (server: ChildServer, done: (s: Awaited<ReturnType<typeof stats>>) => boolean, what: string): Promise<void> {
  const until = Date.now() + 10_000
  for (;;) {
    const current = await stats(server)
    if (done(current)) return
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(current)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('session budget: memory measured in a child process', () => {
  for (const binary of [false, true]) {
    test(`the charges per session and per ${binary ? 'binary' : 'text'} message are at least what the process really holds, and not far above`, async (t) => {
      const server = await startChildServer({ fixture, options: { plugin: { sessionBudget: UNLIMITED }, reliable: { sessionTimeout: 600_000 } } })
      t.after(() => server.kill())
      // Costs are slopes between two sizes (140 and 340 suspended sessions), so one-time allocations made on
      // the way (code compiled late, maps and pools growing) do not count as a per-session cost.
      const sessions = 200
      const messages = 200
      await feedAndDrop(server, '/feed', 20, 0) // warm up: code paths, pools, maps
      await feedAndDrop(server, '/feed?count=10&size=8&binary=' + (binary ? '1' : '0'), 20, 10)
      await waitForStats(server, (s) => s.suspended === 40, '40 suspended')
      await feedAndDrop(server, '/feed', 100, 0)
      await waitForStats(server, (s) => s.suspended === 140, '140 suspended')
      const start = await heldMemory(server)
      const startStats = await stats(server)
      await feedAndDrop(server, '/feed', sessions, 0)
      await waitForStats(server, (s) => s.suspended === 140 + sessions, 'empty sessions suspended')
      const empty = await heldMemory(server)
      const emptyStats = await stats(server)
      await feedAndDrop(server, `/feed?count=${messages}&size=8&binary=${binary ? 1 : 0}`, sessions, messages)
      await waitForStats(server, (s) => s.suspended === 140 + 2 * sessions, 'fed sessions suspended')
      const fed = await heldMemory(server)
      const fedStats = await stats(server)

      const realPerSession = (empty - start) / sessions
      const chargedPerSession = (emptyStats.heldBytes - startStats.heldBytes) / sessions
      const realPerMessage = (fed - empty - sessions * realPerSession) / (sessions * messages)
      const chargedPerMessage = (fedStats.heldBytes - emptyStats.heldBytes - sessions * chargedPerSession) / (sessions * messages)
      t.diagnostic(`per session: real ${realPerSession.toFixed(0)} B, charged ${chargedPerSession} B (SESSION_OVERHEAD ${SESSION_OVERHEAD})`)
      t.diagnostic(`per ${binary ? 'binary' : 'text'} message of 8 payload bytes: real ${realPerMessage.toFixed(0)} B, charged ${chargedPerMessage.toFixed(0)} B (MESSAGE_OVERHEAD ${MESSAGE_OVERHEAD} + frame)`)
      assert.equal(chargedPerSession, SESSION_OVERHEAD)
      assert.ok(realPerSession <= chargedPerSession, `a session costs ${realPerSession.toFixed(0)} B, more than the ${chargedPerSession} B charged`)
      assert.ok(realPerMessage <= chargedPerMessage, `a message costs ${realPerMessage.toFixed(0)} B, more than the ${chargedPerMessage.toFixed(0)} B charged`)
      // Honest, not merely safe: the charge is not wildly above the real cost.
      // A session's charge keeps headroom for what one-off growth (maps, arrays sessions share) adds.
      assert.ok(realPerSession >= chargedPerSession / 3, `a session costs only ${realPerSession.toFixed(0)} B`)
      assert.ok(realPerMessage >= chargedPerMessage / 2, `a message costs only ${realPerMessage.toFixed(0)} B`)
    })
  }

  test('1-byte messages: the real memory per session stays under maxSessionBytes, and the send past it ends the session with 4413', async (t) => {
    const maxSessionBytes = 256 * 1024
    const server = await startChildServer({
      fixture,
      options: { plugin: { sessionBudget: { ...UNLIMITED, maxSessionBytes } }, reliable: { sessionTimeout: 600_000 } }
    })
    t.after(() => server.kill())
    // What fits: the record plus (cap - record) / (overhead + frame) messages of frame "D<seq>:x".
    const fits = Math.floor((maxSessionBytes - SESSION_OVERHEAD) / (MESSAGE_OVERHEAD + 6))
    await feedAndDrop(server, '/feed', 10, 0)
    await waitForStats(server, (s) => s.suspended === 10, 'warm-up sessions suspended')
    const before = await heldMemory(server)
    const sessions = 50
    await feedAndDrop(server, `/feed?count=${fits}&size=1`, sessions, fits)
    await waitForStats(server, (s) => s.suspended === 10 + sessions, 'sessions suspended')
    const perSession = (await heldMemory(server) - before) / sessions
    const after = await stats(server)
    t.diagnostic(`${fits} messages of 1 byte per session: real ${perSession.toFixed(0)} B per session, cap ${maxSessionBytes} B`)
    assert.equal(after.unacked, sessions * fits)
    assert.ok(perSession <= maxSessionBytes, `a session holds ${perSession.toFixed(0)} B, over its cap of ${maxSessionBytes}`)

    // Twice as many messages: the first send past the cap ends the session with 4413.
    const over = await openRawSession(`${server.url}/feed?count=${2 * fits}&size=1`)
    assert.equal(await over.closed, CloseCode.BUFFER_OVERFLOW)
    assert.ok(over.received() <= fits, `received ${over.received()} frames, at most ${fits} fit`)
  })

  test('hundreds of fed and dropped sessions plus small broadcasts stay within maxTotalBytes; the shed learn it and a legitimate client keeps echoing', async (t) => {
    const maxTotalBytes = 24 * MiB
    const server = await startChildServer({
      fixture,
      heapMiB: 256,
      options: {
        plugin: { sessionBudget: { ...UNLIMITED, maxTotalBytes, maxSessionBytes: MiB } },
        reliable: { sessionTimeout: 600_000 }
      }
    })
    t.after(() => server.kill())
    await feedAndDrop(server, '/feed', 10, 0)
    const baseline = await heldMemory(server)

    const legit = startClient(`${server.url}/echo`)
    t.after(() => legit.close())
    let continuityLost = 0
    legit.on('continuityLost', () => { continuityLost++ })
    await nextEvent(legit, 'open')
    // Echo round trips, one after the other, while the attack runs; broadcasts reach this client too.
    let echoes = 0
    let stopped = false
    let echoed: (() => void) | undefined
    legit.on('message', (data) => { if (data === `ping ${echoes}`) echoed?.() })
    const echoLoop = (async () => {
      while (!stopped) {
        const reply = new Promise<void>((resolve) => { echoed = resolve })
        await legit.send(`ping ${echoes}`)
        await reply
        echoes++
      }
    })()

    // 300 sessions of about 200 KiB of frames and 200 KiB of overhead each: ~120 MiB unbounded.
    const attackers = await feedAndDrop(server, '/feed?count=200&size=1000', 300, 200)
    const response = await fetch(`http://127.0.0.1:${server.port}/broadcast?count=200&size=32`, { method: 'POST' })
    assert.equal(response.status, 200)
    const during = echoes
    stopped = true
    await echoLoop

    const held = await stats(server)
    const memory = await heldMemory(server)
    t.diagnostic(`held ${(held.heldBytes / MiB).toFixed(1)} MiB charged, ${((memory - baseline) / MiB).toFixed(1)} MiB real above the baseline; ${held.suspended} suspended, ended ${JSON.stringify(held.endedByCause)}; ${during} echoes during the attack`)
    assert.ok(held.heldBytes <= maxTotalBytes, `charged ${held.heldBytes} B over the budget`)
    // The margin covers the legitimate client, the fixture and what gc leaves (sockets being torn down).
    const margin = 8 * MiB
    assert.ok(memory - baseline <= maxTotalBytes + margin, `the process holds ${((memory - baseline) / MiB).toFixed(1)} MiB above the baseline`)
    assert.ok((held.endedByCause.shed ?? 0) > 100, 'the budget shed the oldest sessions')
    assert.ok(echoes > 0, 'the legitimate client echoed during the attack')
    assert.equal(continuityLost, 0, 'the attached legitimate client was never shed')

    // The oldest attacker was shed: its resume starts afresh. The session suspended last is kept
    // (the full budget sheds the oldest suspended first): it resumes.
    const [newest] = await feedAndDrop(server, '/feed?count=10&size=100', 1, 10)
    await waitForStats(server, (s) => s.attached === 1, 'the newest session suspended')
    const oldestBack = await openRawSession(`${server.url}/feed`, attackers[0].resumeInfo())
    assert.equal(oldestBack.welcome.resumed, false)
    const newestBack = await openRawSession(`${server.url}/feed`, newest.resumeInfo())
    assert.equal(newestBack.welcome.resumed, true)
    oldestBack.socket.terminate()
    newestBack.socket.terminate()

    // A new legitimate client still gets in and is echoed.
    const late = startClient(`${server.url}/echo`)
    t.after(() => late.close())
    await nextEvent(late, 'open')
    const reply = nextEvent(late, 'message')
    await late.send('late')
    assert.deepEqual(await reply, ['late', false])
  })
})
