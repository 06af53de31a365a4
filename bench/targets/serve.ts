import { setImmediate as nextTurn } from 'node:timers/promises'
import { parentChannel } from '../lib/ipc.js'
import type { StatsRequest, TargetConfig, TargetStarted, TargetStats } from '../lib/target-protocol.js'

/** What a target script's start function returns. */
export interface RunningTarget {
  /** TCP port it listens on (127.0.0.1). */
  port: number
  /** Open WebSocket connections it holds now. */
  connections (): number
  /** Target-specific counters, reported with every `stats` answer. */
  counters? (): Record<string, number>
}

/** Start function of a target script: listen on 127.0.0.1 and a free port with these settings. */
export type StartTarget = (config: TargetConfig) => Promise<RunningTarget>

/** Thrown by a target for a heartbeat mode it does not implement; the runner reports it. */
export function unsupportedMode (target: string, config: TargetConfig): Error {
  return new Error(`target ${target} does not support heartbeat mode "${config.heartbeat}"`)
}

async function collectGarbage (): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return
  // Two rounds with a turn between them let finalizers and weak callbacks of the first run.
  gc()
  await nextTurn()
  gc()
}

/**
 * The body of every target script: answers the runner's `start`, `stats` and `exit` requests.
 * The process exits on `exit` or when the runner goes away, without a graceful shutdown: the
 * measurements are over by then and closing 10,000 sockets one by one would only slow the run.
 */
export function serveTarget (start: StartTarget): void {
  const channel = parentChannel()
  let target: RunningTarget | undefined

  channel.handle('start', async (config: TargetConfig): Promise<TargetStarted> => {
    if (target !== undefined) throw new Error('target already started')
    target = await start(config)
    return { port: target.port }
  })

  channel.handle('stats', async (request: StatsRequest): Promise<TargetStats> => {
    if (request.gc) await collectGarbage()
    const cpu = process.cpuUsage()
    const memory = process.memoryUsage()
    return {
      time: performance.now(),
      cpu: cpu.user + cpu.system,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      connections: target?.connections() ?? 0,
      counters: target?.counters?.() ?? {}
    }
  })

  channel.handle('exit', () => {
    setImmediate(() => process.exit(0))
    return null
  })
  channel.announceReady()
}
