import type WebSocket from 'ws'
import type { IdleJob, IdleOpened, IdleSnapshot } from '../lib/load-protocol.js'
import { openWs } from './ws-client.js'

/** Traffic mode sends on a 50 ms tick, a slice of the connections per tick. */
const TRAFFIC_TICK = 50
const TRAFFIC_MESSAGE = 'x'

const counters = { pings: 0, sent: 0, dropped: 0 }
let closing = false

function onPing (): void {
  counters.pings++
}

function onClose (): void {
  if (!closing) counters.dropped++
}

/**
 * Many idle `ws` clients for the heartbeat scenario. They answer protocol pings by themselves
 * (`ws` auto-pong) and count them; on request each sends one small message per interval.
 */
export class IdleLoad {
  readonly #sockets: WebSocket[] = []
  #traffic: NodeJS.Timeout | undefined

  /** Open `job.connections` clients, `job.concurrency` handshakes at a time. */
  async open (job: IdleJob): Promise<IdleOpened> {
    const started = performance.now()
    let next = 0
    let failed = 0
    let firstError: string | null = null
    const opener = async (): Promise<void> => {
      while (next < job.connections) {
        next++
        try {
          const socket = await openWs(job.port)
          socket.on('ping', onPing)
          socket.on('close', onClose)
          this.#sockets.push(socket)
        } catch (error) {
          failed++
          firstError ??= error instanceof Error ? error.message : String(error)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(job.concurrency, job.connections) }, opener))
    return { opened: this.#sockets.length, failed, elapsed: performance.now() - started, firstError }
  }

  /**
   * Make each connection send one message every `interval` ms (spread over the interval), or
   * stop the traffic with 0.
   */
  setTraffic (interval: number): void {
    clearInterval(this.#traffic)
    this.#traffic = undefined
    if (interval <= 0) return
    const slices = Math.max(1, Math.round(interval / TRAFFIC_TICK))
    let tick = 0
    this.#traffic = setInterval(() => {
      const slice = tick++ % slices
      for (let i = slice; i < this.#sockets.length; i += slices) {
        const socket = this.#sockets[i]
        if (socket.readyState !== 1) continue
        socket.send(TRAFFIC_MESSAGE)
        counters.sent++
      }
    }, TRAFFIC_TICK)
  }

  /** Cumulative counters now. */
  snapshot (): IdleSnapshot {
    const usage = process.cpuUsage()
    return { time: performance.now(), cpu: usage.user + usage.system, ...counters }
  }

  /** Stop the traffic and drop every connection. */
  stop (): void {
    closing = true
    this.setTraffic(0)
    for (const socket of this.#sockets) socket.terminate()
    this.#sockets.length = 0
  }
}
