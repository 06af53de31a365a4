import type { EchoJob, EchoSnapshot } from '../lib/load-protocol.js'
import { summarizeLatency } from '../lib/stats.js'
import { DRIVERS } from './drivers/index.js'
import type { EchoLink } from './drivers/index.js'

/** Latency samples kept per window at most; at 1 in flight even 100k round trips/s for 10 s fit. */
const MAX_SAMPLES = 1_000_000
/** Connections opened at once. */
const OPEN_CONCURRENCY = 10

function cpuNow (): number {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}

/**
 * A payload of exactly `bytes` bytes that is also a JSON document `{"text":"xx…"}`, so that the
 * typed targets (`messages` option) accept it; the other targets echo it as opaque text.
 */
export function echoPayload (bytes: number): string {
  const frame = '{"text":""}'
  return bytes < frame.length ? 'x'.repeat(bytes) : `{"text":"${'x'.repeat(bytes - frame.length)}"}`
}

/**
 * A closed-loop echo load: every connection sends `inFlight` messages, then one more for every
 * reply until stopped. With `recordLatency` each connection has one message in flight and every
 * round trip is timed.
 */
export class EchoLoad {
  readonly #job: EchoJob
  readonly #payload: string
  readonly #links: EchoLink[] = []
  readonly #sentAt: Float64Array
  readonly #samples = new Float64Array(MAX_SAMPLES)
  #sampleCount = 0
  #replies = 0
  #dropped = 0
  #running = false

  private constructor (job: EchoJob) {
    if (job.recordLatency && job.inFlight !== 1) throw new Error('latency is recorded with 1 message in flight only')
    this.#job = job
    this.#payload = echoPayload(job.payloadBytes)
    this.#sentAt = new Float64Array(job.connections)
  }

  /** Open all connections, then start sending. */
  static async start (job: EchoJob): Promise<EchoLoad> {
    const driver = DRIVERS[job.driver]
    if (driver === undefined) throw new Error(`unknown driver "${job.driver}"`)
    const load = new EchoLoad(job)
    let next = 0
    const opener = async (): Promise<void> => {
      while (next < job.connections) {
        const index = next++
        load.#links[index] = await driver(job.port, {
          reply: (count) => load.#reply(index, count),
          close: () => { if (load.#running) load.#dropped++ }
        })
      }
    }
    await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, job.connections) }, opener))
    load.#running = true
    for (let index = 0; index < job.connections; index++) load.#send(index, job.inFlight)
    return load
  }

  #send (index: number, count: number): void {
    if (this.#job.recordLatency) this.#sentAt[index] = performance.now()
    this.#links[index].send(this.#payload, count)
  }

  #reply (index: number, count: number): void {
    this.#replies += count
    if (!this.#running) return
    if (this.#job.recordLatency && this.#sampleCount < MAX_SAMPLES) {
      this.#samples[this.#sampleCount++] = (performance.now() - this.#sentAt[index]) * 1000
    }
    this.#send(index, count)
  }

  /** Cumulative counters now; latency since the last reset. */
  snapshot (resetLatency: boolean): EchoSnapshot {
    const snapshot: EchoSnapshot = {
      time: performance.now(),
      replies: this.#replies,
      cpu: cpuNow(),
      latency: this.#job.recordLatency ? summarizeLatency(this.#samples.subarray(0, this.#sampleCount)) : null,
      dropped: this.#dropped
    }
    if (resetLatency) this.#sampleCount = 0
    return snapshot
  }

  /** Stop sending and drop every connection. */
  stop (): void {
    this.#running = false
    for (const link of this.#links) link.close()
    this.#links.length = 0
  }
}
