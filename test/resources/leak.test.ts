// Leak test: 20,000 open/close cycles, plain and reliable (sessions closed normally, expired,
// resumed, taken over by a second socket, and ended by a broken rule), against a child-process server. Afterwards the registry, the heartbeat manager and the
// session store are empty and the heap after GC is back within a few MiB of its warm baseline.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startChildServer } from '../helpers/child-server.js'
import type { ChildServer } from '../helpers/child-server.js'
import { PROTOCOL_VERSION } from '../../lib/protocol/version.js'
import { delay, openClient } from '../helpers/server.js'
import type { TestClient } from '../helpers/server.js'

const FIXTURE = new URL('../helpers/fixtures/leak-cycles.ts', import.meta.url)
/** Of /reliable-expiring only, so that expired sessions leave within the test (resumes go to /reliable). */
const SESSION_TIMEOUT = 200
const CONCURRENCY = 50
/** Cycles of each kind; 20,000 in all. */
const CYCLES = { plain: 5000, closed: 4000, expired: 3000, resumed: 3000, replaced: 2000, brokenPlain: 1500, brokenReliable: 1500 } as const
const WARM_UP_CYCLES = 200
/**
 * Heap growth allowed after all cycles, in MiB. A leak of 200 bytes per cycle would add 3.8 MiB;
 * what one connection or session holds (socket, connection object, logs, timers) is several KiB.
 */
const HEAP_GROWTH_MIB = 3

type CycleKind = keyof typeof CYCLES

interface Welcome { sessionId: string, epoch: string, resumed: boolean, resumeToken: string }

/** The next message that is not a server ack (`A<seq>`), which the reliable route sends on its own timer. */
async function nextNonAck (client: TestClient): Promise<string> {
  for (;;) {
    const message = await client.next(10_000)
    if (typeof message !== 'string' || !/^A[0-9]+$/.test(message)) return String(message)
  }
}

async function handshake (client: TestClient, hello: object): Promise<Welcome> {
  client.socket.send('H' + JSON.stringify({ version: PROTOCOL_VERSION, ...hello }))
  const welcome = await nextNonAck(client)
  assert.ok(welcome.startsWith('W'), `expected a welcome, got ${welcome}`)
  return JSON.parse(welcome.slice(1)) as Welcome
}

async function closeNormally (client: TestClient): Promise<void> {
  client.socket.close(1000)
  const { code } = await client.closed
  assert.equal(code, 1000)
}

/** One open/close cycle of the given kind. */
async function cycle (server: ChildServer, kind: CycleKind): Promise<void> {
  if (kind === 'brokenPlain' || kind === 'brokenReliable') {
    // Invalid UTF-8 in a text message (1007), a message that is no protocol frame (4400).
    const reliable = kind === 'brokenReliable'
    const client = await openClient(`${server.url}/${reliable ? 'reliable' : 'ws'}`)
    if (reliable) await handshake(client, {})
    client.socket.send(reliable ? 'X not a frame' : Buffer.from([0xc3, 0x28]), { binary: false })
    const { code } = await client.closed
    assert.equal(code, reliable ? 4400 : 1007)
    return
  }
  if (kind === 'plain') {
    const client = await openClient(`${server.url}/ws`)
    client.socket.send('ping me')
    assert.equal(await client.next(10_000), 'ping me')
    await closeNormally(client)
    return
  }
  const url = `${server.url}/${kind === 'expired' ? 'reliable-expiring' : 'reliable'}`
  const client = await openClient(url)
  const welcome = await handshake(client, {})
  client.socket.send('D1:hello')
  assert.equal(await nextNonAck(client), 'D1:hello')
  if (kind === 'closed') {
    client.socket.send('A1')
    await closeNormally(client)
    return
  }
  // Unacknowledged, so the session holds a message while it waits. A replaced socket stays open
  // until the resume on another socket closes it with 4409.
  if (kind !== 'replaced') {
    client.socket.terminate()
    await client.closed
  }
  if (kind === 'expired') return
  const again = await openClient(url)
  const resumed = await handshake(again, { resume: { sessionId: welcome.sessionId, epoch: welcome.epoch, delivered: 0, token: welcome.resumeToken } })
  if (kind === 'replaced') assert.equal((await client.closed).code, 4409, 'the old socket is told the session moved')
  assert.equal(resumed.resumed, true, 'the session resumed')
  assert.equal(await nextNonAck(again), 'D1:hello', 'the unacknowledged message is replayed')
  again.socket.send('A1')
  await closeNormally(again)
}

async function runCycles (server: ChildServer, counts: Record<CycleKind, number>): Promise<void> {
  const queue: CycleKind[] = []
  // Interleaved, so that every kind runs beside every other.
  for (let round = 0; queue.length < Object.values(counts).reduce((a, b) => a + b, 0); round++) {
    for (const kind of Object.keys(counts) as CycleKind[]) if (round < counts[kind]) queue.push(kind)
  }
  let next = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < queue.length) await cycle(server, queue[next++])
  }))
}

/** Poll the child's counters until all are 0; fail naming them after `ms`. */
async function countersAtZero (server: ChildServer, ms = 15_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms
  for (;;) {
    const stats = await server.stats()
    if (Object.values(stats).every((value) => value === 0)) return stats
    if (Date.now() > deadline) assert.fail(`counters not back to 0 after ${ms} ms: ${JSON.stringify(stats)}`)
    await delay(50)
  }
}

const MiB = 1024 * 1024

test('20,000 plain and reliable open/close cycles, normal and broken, leave no connection, session or heap behind', async (t) => {
  const server = await startChildServer({ fixture: FIXTURE, options: { sessionTimeout: SESSION_TIMEOUT, sweepInterval: 100 } })
  t.after(() => server.kill())
  // Warm-up: every path runs and is compiled before the baseline is taken.
  await runCycles(server, { plain: WARM_UP_CYCLES, closed: WARM_UP_CYCLES, expired: WARM_UP_CYCLES, resumed: WARM_UP_CYCLES, replaced: WARM_UP_CYCLES, brokenPlain: WARM_UP_CYCLES, brokenReliable: WARM_UP_CYCLES })
  await countersAtZero(server)
  const baseline = await server.memory()

  const started = Date.now()
  await runCycles(server, CYCLES)
  const took = Date.now() - started
  const stats = await countersAtZero(server)
  const after = await server.memory()
  const growth = (after.heapUsed - baseline.heapUsed) / MiB
  t.diagnostic(`${Object.values(CYCLES).reduce((a, b) => a + b, 0)} cycles in ${took} ms; heapUsed ${(baseline.heapUsed / MiB).toFixed(1)} -> ${(after.heapUsed / MiB).toFixed(1)} MiB ` +
    `(${growth >= 0 ? '+' : ''}${growth.toFixed(2)}), rss ${(baseline.rss / MiB).toFixed(0)} -> ${(after.rss / MiB).toFixed(0)} MiB, ` +
    `external ${(baseline.external / MiB).toFixed(1)} -> ${(after.external / MiB).toFixed(1)} MiB`)
  assert.deepEqual(stats, { connections: 0, heartbeat: 0, sessions: 0 })
  assert.ok(growth <= HEAP_GROWTH_MIB, `heap grew by ${growth.toFixed(2)} MiB after the cycles (bound ${HEAP_GROWTH_MIB} MiB)`)
  await server.close()
})
