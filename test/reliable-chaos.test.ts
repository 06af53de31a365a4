import { randomInt } from 'node:crypto'
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ReliableConnection, WsMessage } from '../lib/index.js'
import { LogLevel, captureLogs, delay, waitFor, withExpiry } from './helpers/server.js'
import { FAST_CLIENT, FAST_HEARTBEAT, Scene, codeOf, nextClientEvent, seededRandom } from './helpers/reliable-pair.js'
import type { FaultProxy } from '../lib/testing/index.js'

/** The senders pause BATCH_PAUSE ms after every BATCH messages (see sendWindowed). */
const BATCH = 100
const BATCH_PAUSE = 50

/** Odd numbers travel as text, even ones as 4 bytes of binary: both payload kinds cross every drop. */
function encodeNumber (n: number): string | Uint8Array {
  if (n % 2 === 1) return String(n)
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, n)
  return bytes
}

function decodeNumber (data: string | Uint8Array): number {
  if (typeof data === 'string') return Number(data)
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0)
}

/** What the senders of one side saw. */
interface SendTally {
  resolved: number
  rejected: string[]
}

/**
 * Send 1..count through `send`, at most `window` unsettled at a time (so neither side's
 * unacknowledged buffer can overflow), counting how each promise settled. A pause after every
 * `BATCH` messages spreads the transfer over many breaks of the network: unpaced, loopback moves
 * 10,000 messages between two breaks.
 */
async function sendWindowed (send: (n: number) => Promise<void>, count: number, window: number, tally: SendTally): Promise<void> {
  const inFlight = new Set<Promise<void>>()
  for (let n = 1; n <= count; n++) {
    if (n % BATCH === 0) await delay(BATCH_PAUSE)
    const settled: Promise<void> = send(n).then(
      () => { tally.resolved++ },
      (error: unknown) => { tally.rejected.push(`${n}: ${codeOf(error) ?? ''} ${String(error)}`) }
    ).finally(() => inFlight.delete(settled))
    inFlight.add(settled)
    if (inFlight.size >= window) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
}

/** Fails with the first place where `received` is not exactly 1..count. */
function assertExactlyOnceInOrder (received: number[], count: number, what: string): void {
  const firstWrong = received.findIndex((n, i) => n !== i + 1)
  const duplicates = received.length - new Set(received).size
  assert.ok(firstWrong === -1 && received.length === count,
    `${what}: expected 1..${count} exactly once in order, got ${received.length} messages, ${duplicates} duplicates, ` +
    (firstWrong === -1 ? 'no misplaced one' : `first misplaced at index ${firstWrong}: ${received.slice(firstWrong, firstWrong + 5).join(',')}`))
}

interface ChaosStats {
  cuts: number
  blackholes: number
  error: Error | undefined
}

/** What the chaos loop watches to know when a blackhole may end. */
interface ChaosProbes {
  running: () => boolean
  /** Connections the client has reported closed so far. */
  clientCloses: () => number
  /** True while the server's session has a socket. */
  serverAttached: () => boolean
}

/**
 * Every 100-300 ms, either cut every connection or blackhole the network. The proxy holds what
 * arrives during a blackhole and delivers it on restore, as TCP retransmits through an outage.
 * Half of the blackholes are short outages (100-300 ms, often shorter than the heartbeat needs to
 * notice: the connection survives and the held frames arrive late); the other half last until
 * both ends have given up the connection (the client reported a close and the server's session
 * has no socket), so the session must resume.
 */
async function runChaos (proxy: FaultProxy, random: () => number, probes: ChaosProbes, stats: ChaosStats): Promise<void> {
  try {
    while (probes.running()) {
      await delay(100 + Math.floor(random() * 200))
      if (!probes.running()) break
      if (random() < 0.5) {
        stats.cuts++
        proxy.cut()
        continue
      }
      stats.blackholes++
      const closesBefore = probes.clientCloses()
      const holdUntil = Date.now() + 100 + Math.floor(random() * 200)
      const untilGivenUp = random() < 0.5
      proxy.blackhole()
      try {
        await waitFor(() => !probes.running() || (Date.now() >= holdUntil &&
          (!untilGivenUp || (probes.clientCloses() > closesBefore && !probes.serverAttached()))),
        'the blackhole to end', 10_000)
      } finally {
        proxy.restore()
      }
    }
  } catch (error) {
    stats.error = error as Error
  }
}

/** The seed of every random choice of these tests, printed with each result. */
const DEFAULT_SEED = 20_261_129

/**
 * The seed: `DEFAULT_SEED` so that every run makes the same choices, `FRWS_CHAOS_SEED=<n>` to
 * replay a printed seed, `FRWS_CHAOS_SEED=random` to explore a new one (printed too).
 */
function chaosSeed (value = process.env.FRWS_CHAOS_SEED): number {
  if (value === undefined || value === '') return DEFAULT_SEED
  if (value === 'random') return randomInt(2 ** 31)
  const seed = Number(value)
  if (!Number.isSafeInteger(seed)) throw new TypeError(`FRWS_CHAOS_SEED must be an integer or "random", got "${value}"`)
  return seed
}

const seed = chaosSeed()

describe('reliable mode through a network that keeps breaking', () => {
  const MESSAGES = 10_000
  const WINDOW = 500

  test(`10,000 messages each way arrive exactly once and in order while a proxy cuts or blackholes the connection every 100-300 ms (seed ${seed}, rerun with FRWS_CHAOS_SEED=${seed})`,
    { timeout: 120_000 }, async (t) => {
      const scene = new Scene()
      t.after(() => scene.close())
      t.diagnostic(`seed ${seed} (rerun with FRWS_CHAOS_SEED=${seed})`)
      const random = seededRandom(seed)
      const serverReceived: number[] = []
      const serverTally: SendTally = { resolved: 0, rejected: [] }
      const clientTally: SendTally = { resolved: 0, rejected: [] }
      const sessions: ReliableConnection[] = []
      const serverEvents = { suspend: 0, resume: 0, closes: [] as string[] }
      let running = true

      const logs = captureLogs()
      const server = await scene.server({
        fastify: { logger: { level: 'info', stream: logs.stream } },
        route: { heartbeat: FAST_HEARTBEAT, handshakeTimeout: 2000 },
        handler: (connection) => {
          sessions.push(connection)
          connection.on('message', (data: WsMessage) => serverReceived.push(decodeNumber(data)))
          connection.on('suspend', () => serverEvents.suspend++)
          connection.on('resume', () => serverEvents.resume++)
          connection.on('close', (info) => serverEvents.closes.push(`${info.code} ${info.cause} ${info.reason}`))
          void sendWindowed((n) => running ? connection.send(encodeNumber(n)) : Promise.reject(new Error('test over')), MESSAGES, WINDOW, serverTally)
        }
      })
      const { proxy, url } = await scene.proxy(server.port)
      const { client, log } = scene.client(url, { ...FAST_CLIENT, random: seededRandom(seed + 1) })
      const clientReceived: number[] = []
      let clientCloses = 0
      let resumes = 0
      const continuityLost: unknown[] = []
      client.on('message', (data) => clientReceived.push(decodeNumber(data)))
      client.on('close', () => clientCloses++)
      client.on('resumed', () => resumes++)
      client.on('continuityLost', (event) => continuityLost.push(event))
      await nextClientEvent(client, 'open')

      void sendWindowed((n) => running ? client.send(encodeNumber(n)) : Promise.reject(new Error('test over')), MESSAGES, WINDOW, clientTally)
      const chaos: ChaosStats = { cuts: 0, blackholes: 0, error: undefined }
      const chaosDone = runChaos(proxy, random, {
        running: () => running,
        clientCloses: () => clientCloses,
        serverAttached: () => sessions[0]?.isAttached === true
      }, chaos)
      scene.onClose(() => { running = false })

      const started = Date.now()
      const finished = (): boolean => clientReceived.length >= MESSAGES && serverReceived.length >= MESSAGES &&
        clientTally.resolved + clientTally.rejected.length === MESSAGES && serverTally.resolved + serverTally.rejected.length === MESSAGES
      const status = (): string => `seed ${seed}; after ${Date.now() - started} ms: client received ${clientReceived.length}, ` +
        `server received ${serverReceived.length}, client sends ${JSON.stringify(clientTally).slice(0, 300)}, ` +
        `server sends ${JSON.stringify(serverTally).slice(0, 300)}; chaos ${chaos.cuts} cuts, ${chaos.blackholes} blackholes ` +
        `${chaos.error?.message ?? ''}; client state ${client.state}; session ends on the server: ${JSON.stringify(serverEvents.closes)}; ` +
        `client events:\n${log.slice(-40).join('\n')}\nserver warnings:\n` +
        logs.lines.filter((line) => line.level >= LogLevel.warn || /violation|refused/.test(line.msg ?? ''))
          .map((line) => JSON.stringify(line).slice(0, 400)).slice(-20).join('\n')
      try {
        await waitFor(() => finished() || chaos.error !== undefined || client.state === 'closed' || continuityLost.length > 0,
          'both directions to finish', 90_000)
      } catch {
        assert.fail(`did not finish: ${status()}`)
      } finally {
        running = false
        await chaosDone
      }
      t.diagnostic(`seed ${seed}: ${MESSAGES} messages each way in ${Date.now() - started} ms through ${chaos.cuts} cuts and ` +
        `${chaos.blackholes} blackholes; client reconnects ${resumes}, server suspends ${serverEvents.suspend}, resumes ${serverEvents.resume}, ` +
        `bytes lost with connections that died in a blackhole ${proxy.droppedBytes}`)

      assert.equal(chaos.error, undefined, status())
      assert.deepEqual(continuityLost, [], `continuity held: ${status()}`)
      assert.notEqual(client.state, 'closed', status())
      assertExactlyOnceInOrder(clientReceived, MESSAGES, `client received (seed ${seed})`)
      assertExactlyOnceInOrder(serverReceived, MESSAGES, `server received (seed ${seed})`)
      assert.deepEqual(clientTally, { resolved: MESSAGES, rejected: [] }, `client sends (seed ${seed})`)
      assert.deepEqual(serverTally, { resolved: MESSAGES, rejected: [] }, `server sends (seed ${seed})`)
      assert.equal(sessions.length, 1, 'one session on the server all along')
      assert.deepEqual(serverEvents.closes, [], 'the session never ended')
      assert.ok(chaos.cuts + chaos.blackholes > 0 && resumes > 0, `the network did break: ${status()}`)
    })
})

describe('the seed scenario: a client sending steadily through a network outage', () => {
  test(`a client sending every 200 ms through a 2 s blackhole (the 2 s / 20 s case scaled down 10x: the outage lasts 10 send intervals) loses nothing and duplicates nothing (seed ${seed})`,
    { timeout: 30_000 }, async (t) => {
      const SEND_INTERVAL = 200
      const OUTAGE = 10 * SEND_INTERVAL
      const BEFORE = 5
      const AFTER = 5
      const scene = new Scene()
      t.after(() => scene.close())
      const received: string[] = []
      const sessions: string[] = []
      const server = await scene.server({
        route: { heartbeat: FAST_HEARTBEAT },
        handler: (connection) => {
          sessions.push(connection.sessionId)
          connection.on('message', (data: WsMessage) => received.push(String(data)))
        }
      })
      const { proxy, url } = await scene.proxy(server.port)
      // The client's backoff jitter is seeded too.
      const { client, log } = scene.client(url, { ...FAST_CLIENT, random: seededRandom(seed + 2) })
      const resumed: boolean[] = []
      const continuityLost: unknown[] = []
      client.on('resumed', ({ continuity }) => resumed.push(continuity))
      client.on('continuityLost', (event) => continuityLost.push(event))
      await nextClientEvent(client, 'open')

      const sent: string[] = []
      const outcomes: Array<Promise<string>> = []
      let outageEnd = 0
      const sendNext = (): void => {
        const text = `tick ${sent.length + 1}`
        sent.push(text)
        outcomes.push(client.send(text).then(() => 'resolved', (error: unknown) => `rejected ${codeOf(error) ?? String(error)}`))
      }
      for (let i = 0; i < BEFORE; i++) {
        sendNext()
        await delay(SEND_INTERVAL)
      }
      proxy.blackhole()
      outageEnd = Date.now() + OUTAGE
      while (Date.now() < outageEnd) {
        sendNext()
        await delay(SEND_INTERVAL)
      }
      proxy.restore()
      for (let i = 0; i < AFTER; i++) {
        sendNext()
        await delay(SEND_INTERVAL)
      }

      const results = await withExpiry(Promise.all(outcomes), 10_000, `every send() to settle; client events:\n${log.join('\n')}`)
      await waitFor(() => received.length >= sent.length, 'every message to reach the handler', 5000).catch(() => {})
      assert.deepEqual(results, sent.map(() => 'resolved'), `every send() resolved; client events:\n${log.join('\n')}`)
      assert.deepEqual(received, sent, 'the handler got exactly the sequence sent')
      assert.ok(sent.length >= BEFORE + 10 + AFTER - 1, `sent ${sent.length} messages`)
      assert.ok(proxy.droppedBytes > 0, 'the outage dropped traffic')
      assert.ok(resumed.length >= 1 && resumed.every((continuity) => continuity), `resumed with continuity: ${JSON.stringify(resumed)}`)
      assert.deepEqual(continuityLost, [])
      assert.equal(sessions.length, 1, 'one session all along')
      t.diagnostic(`seed ${seed}: ${sent.length} messages, ${resumed.length} resume(s), ${proxy.droppedBytes} bytes dropped by the outage`)
    })
})
