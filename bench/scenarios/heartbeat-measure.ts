import type { HeartbeatVariant } from '../lib/catalog.js'
import type { IdleJob, IdleOpened, IdleSnapshot, TrafficRequest } from '../lib/load-protocol.js'
import type { BenchOptions } from '../lib/options.js'
import type { BenchProcess } from '../lib/processes.js'
import type { StartedTarget } from '../lib/session.js'
import { delay, errorMessage, startLoad, startTarget } from '../lib/session.js'
import type { TargetConfig, TargetStats } from '../lib/target-protocol.js'

/** Pause after the forced GC of the memory reading, so its concurrent sweeping stays out of the CPU window, in ms. */
const QUIET_AFTER_GC = 500

/** One heartbeat measurement: one variant, one run. */
export interface HeartbeatMeasurement {
  variant: string
  run: number
  opened: number
  failed: number
  /** Connections the server reported holding when memory was read. */
  held: number
  /** Growth of RSS and V8 heap from the empty server to the loaded one, per held connection, in bytes. */
  rssPerConnection: number | null
  heapPerConnection: number | null
  /** Server CPU time per second of the idle window, in µs/s. */
  cpuPerSecond: number | null
  /** Load generator CPU per second of the idle window, in µs/s. */
  loadCpuPerSecond: number | null
  /** Length of the idle window, in s. */
  windowSeconds: number | null
  /** Pings the clients received in the idle window. */
  pings: number
  /** Pings the clients received while every connection carried traffic. */
  busyPings: number
  /** Messages the clients sent in the traffic window. */
  busySent: number
  /** Client connections that closed during the measurement. */
  dropped: number
  /** Growth of the target's own counters over the idle window (e.g. classic pings sent). */
  serverCounters: Record<string, number>
  error: string | null
}

function counterDelta (before: TargetStats, after: TargetStats): Record<string, number> {
  const delta: Record<string, number> = {}
  for (const [name, value] of Object.entries(after.counters)) delta[name] = value - (before.counters[name] ?? 0)
  return delta
}

/**
 * Measure one variant: read the empty server's memory, open the idle connections from the load
 * process, let them settle, read memory again (after a full GC), then measure server CPU and
 * the pings the clients received over the idle window. Finally make every connection send a message each
 * `pingInterval / 2`, wait `pingInterval + pongTimeout` for pings already under way, and count
 * the pings that still arrive during the traffic window.
 */
export async function measureHeartbeat (variant: HeartbeatVariant, options: BenchOptions, run: number): Promise<HeartbeatMeasurement> {
  const settings = options.heartbeat
  const result: HeartbeatMeasurement = {
    variant: variant.name, run, opened: 0, failed: 0, held: 0, rssPerConnection: null, heapPerConnection: null,
    cpuPerSecond: null, loadCpuPerSecond: null, windowSeconds: null, pings: 0, busyPings: 0, busySent: 0, dropped: 0,
    serverCounters: {}, error: null
  }
  const config: TargetConfig = {
    heartbeat: variant.heartbeat,
    pingInterval: settings.pingInterval,
    pongTimeout: settings.pongTimeout,
    maxConnections: settings.connections + 100
  }
  let server: StartedTarget | undefined
  let load: BenchProcess | undefined
  try {
    server = await startTarget(variant.script, config, options, variant.name)
    const empty = await server.stats(true)
    load = await startLoad(options)
    const idleJob: IdleJob = { port: server.port, connections: settings.connections, concurrency: settings.concurrency }
    const opened = await load.rpc.request<IdleOpened>('idle:open', idleJob, 120_000)
    result.opened = opened.opened
    result.failed = opened.failed
    if (opened.failed > 0) result.error = `${opened.failed} connection(s) failed to open: ${opened.firstError}`
    await delay(settings.settle)

    const loaded = await server.stats(true)
    result.held = loaded.connections
    if (loaded.connections > 0) {
      result.rssPerConnection = (loaded.rss - empty.rss) / loaded.connections
      result.heapPerConnection = (loaded.heapUsed - empty.heapUsed) / loaded.connections
    }
    await delay(QUIET_AFTER_GC)

    const client = load
    const snapshot = (): Promise<[IdleSnapshot, TargetStats]> =>
      Promise.all([client.rpc.request<IdleSnapshot>('idle:snapshot'), (server as StartedTarget).stats()])
    const [load0, server0] = await snapshot()
    await delay(settings.window)
    const [load1, server1] = await snapshot()
    const serverSeconds = (server1.time - server0.time) / 1000
    result.windowSeconds = (load1.time - load0.time) / 1000
    result.cpuPerSecond = (server1.cpu - server0.cpu) / serverSeconds
    result.loadCpuPerSecond = (load1.cpu - load0.cpu) / result.windowSeconds
    result.pings = load1.pings - load0.pings
    result.serverCounters = counterDelta(server0, server1)

    const interval = Math.max(1, Math.floor(settings.pingInterval / 2))
    await load.rpc.request('idle:traffic', { interval } satisfies TrafficRequest)
    await delay(settings.pingInterval + settings.pongTimeout)
    const busy0 = await load.rpc.request<IdleSnapshot>('idle:snapshot')
    await delay(settings.trafficWindow)
    const busy1 = await load.rpc.request<IdleSnapshot>('idle:snapshot')
    await load.rpc.request('idle:traffic', { interval: 0 } satisfies TrafficRequest)
    result.busyPings = busy1.pings - busy0.pings
    result.busySent = busy1.sent - busy0.sent
    result.dropped = busy1.dropped
  } catch (error) {
    result.error = errorMessage(error)
  } finally {
    await load?.stop()
    await server?.stop()
  }
  return result
}
