// Memory-measured test of the frame arena (lib/reliable/frame-arena.ts): suspended sessions holding
// long text frames carved from chunks, some of them acknowledged (the chunk outlives them), are
// charged at least what the process really holds. The fixture runs in a child process whose
// memory is read after a full gc (test/helpers/child-server.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startChildServer } from '../helpers/child-server.js'
import type { ChildServer } from '../helpers/child-server.js'
import { dropSession, openRawSession } from '../helpers/raw-session.js'
import type { RawSession } from '../helpers/raw-session.js'

const fixture = new URL('../helpers/fixtures/session-budget.ts', import.meta.url)
const UNLIMITED = { maxTotalBytes: 2 ** 30, maxSessionBytes: 2 ** 26, maxSuspended: 1e6, maxSuspendedPerAddress: 1e6, unackedSessionTimeout: 600_000 }

async function heldMemory (server: ChildServer): Promise<number> {
  const memory = await server.memory()
  return memory.dataHeapUsed + memory.external
}

async function stats (server: ChildServer): Promise<{ suspended: number, heldBytes: number }> {
  return await server.stats() as never
}

async function waitForSuspended (server: ChildServer, count: number): Promise<void> {
  const until = Date.now() + 20_000
  for (;;) {
    if ((await stats(server)).suspended === count) return
    if (Date.now() > until) throw new Error(`timed out waiting for ${count} suspended sessions`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Open `count` sessions on `path`, wait for `frames` frames on each, acknowledge the first `ack`, and drop them all. */
async function feedAndDrop (server: ChildServer, path: string, count: number, frames: number, ack: number): Promise<void> {
  for (let i = 0; i < count; i += 20) {
    const batch: RawSession[] = await Promise.all(Array.from({ length: Math.min(20, count - i) }, async () => {
      const session = await openRawSession(`${server.url}${path}`)
      await session.waitFrames(frames)
      if (ack > 0) session.socket.send(`A${ack}`)
      return session
    }))
    // The acks travel before the drops: an echo of a later frame would prove it, a short pause is enough here.
    await new Promise((resolve) => setTimeout(resolve, 100))
    await Promise.all(batch.map(dropSession))
  }
}

test('suspended sessions holding 4 KiB text frames from the arena, a third of them acknowledged, are charged at least their real memory', async (t) => {
  const server = await startChildServer({ fixture, options: { plugin: { sessionBudget: UNLIMITED }, reliable: { sessionTimeout: 600_000 } } })
  t.after(() => server.kill())
  const sessions = 80
  const messages = 30
  await feedAndDrop(server, '/feed?count=30&size=4096', 20, messages, 10) // warm up
  await waitForSuspended(server, 20)
  const start = await heldMemory(server)
  const startStats = await stats(server)
  await feedAndDrop(server, `/feed?count=${messages}&size=4096`, sessions, messages, 10)
  await waitForSuspended(server, 20 + sessions)
  const fed = await heldMemory(server)
  const fedStats = await stats(server)
  const real = (fed - start) / sessions
  const charged = (fedStats.heldBytes - startStats.heldBytes) / sessions
  t.diagnostic(`per session with ${messages - 10} unacknowledged 4 KiB frames: real ${real.toFixed(0)} B, charged ${charged.toFixed(0)} B`)
  assert.ok(real <= charged, `a session holds ${real.toFixed(0)} B, more than the ${charged.toFixed(0)} B charged`)
  assert.ok(real >= charged / 2, `a session holds only ${real.toFixed(0)} B of the ${charged.toFixed(0)} B charged`)
})
