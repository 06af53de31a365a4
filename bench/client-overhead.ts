import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { encodeWelcome } from '../lib/protocol/handshake.js'
import { PROTOCOL_VERSION, SUBPROTOCOL } from '../lib/protocol/version.js'
import { echoPayload } from './load/echo-load.js'
import { loadCompiledClient } from './load/compiled-client.js'

/**
 * `node --import tsx bench/client-overhead.ts [--payload 64] [--round-trips 300000]`: the CPU
 * the compiled `ReliableClient` spends per round trip on its own, over an in-process socket that
 * echoes every data frame (no network, no `ws`), with 32 messages in flight like the throughput
 * scenario. It isolates the client's JavaScript from the socket costs it shares with a bare `ws`
 * client; the figure includes the fake socket's small share. Builds dist/ first.
 */
const IN_FLIGHT = 32
const WARMUP = 20_000
/** The server acknowledges every this many messages, as the plugin's default `ackEvery` does. */
const ACK_EVERY = 64

type Listener = (event: unknown) => void

/** The server side of one reliable session, in process: welcome, echo, ack; deliveries once per macrotask like socket reads. */
class EchoSocket {
  binaryType = 'blob'
  readonly readyState = 1
  readonly protocol = SUBPROTOCOL
  readonly #listeners = new Map<string, Listener[]>()
  #outbox: string[] = []
  #serverSeq = 0
  #received = 0

  constructor () {
    setImmediate(() => this.#emit('open', {}))
  }

  // Each event type has its own event shape; the client's listeners take what they registered for.
  addEventListener (type: string, listener: (event: never) => void): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener as Listener])
  }

  send (frame: string | Uint8Array): void {
    if (typeof frame !== 'string') throw new Error('the echo socket takes text frames only')
    if (frame.startsWith('H')) {
      this.#deliver(encodeWelcome({
        version: PROTOCOL_VERSION, sessionId: 'overhead', epoch: 'e1', resumeToken: 'x'.repeat(22), resumed: false, delivered: 0,
        pingInterval: 25_000, pongTimeout: 10_000, ackInterval: 20, ackEvery: ACK_EVERY, maxPayload: 1_048_576,
        maxUnacked: 4096, maxUnackedBytes: 1_048_576, sessionTimeout: 60_000
      }))
    } else if (frame.startsWith('D')) {
      this.#received++
      this.#deliver('D' + String(++this.#serverSeq) + frame.slice(frame.indexOf(':')))
      if (this.#received % ACK_EVERY === 0) this.#deliver('A' + String(this.#received))
    }
  }

  close (): void {}

  #emit (type: string, event: unknown): void {
    for (const listener of this.#listeners.get(type) ?? []) listener(event)
  }

  #deliver (frame: string): void {
    if (this.#outbox.length === 0) {
      setImmediate(() => {
        const frames = this.#outbox
        this.#outbox = []
        for (const data of frames) this.#emit('message', { data })
      })
    }
    this.#outbox.push(frame)
  }
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { payload: { type: 'string' }, 'round-trips': { type: 'string' } } })
  const payloadBytes = Number(values.payload ?? 64)
  const roundTrips = Number(values['round-trips'] ?? 300_000)
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  const { ReliableClient } = await loadCompiledClient()
  const client = new ReliableClient('ws://in-process', { WebSocket: EchoSocket, maxAttempts: 0 })
  await new Promise((resolve) => client.once('open', resolve))
  const payload = echoPayload(payloadBytes)
  let replies = 0
  let started = process.cpuUsage()
  await new Promise<void>((resolve) => {
    client.on('message', () => {
      replies++
      if (replies === WARMUP) started = process.cpuUsage()
      if (replies === WARMUP + roundTrips) resolve()
      else void client.send(payload)
    })
    for (let i = 0; i < IN_FLIGHT; i++) void client.send(payload)
  })
  const cpu = process.cpuUsage(started)
  console.log(`${payloadBytes} B: ${((cpu.user + cpu.system) / roundTrips).toFixed(2)} µs of CPU per round trip (${roundTrips} round trips, ${IN_FLIGHT} in flight)`)
  await client.close()
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
})
