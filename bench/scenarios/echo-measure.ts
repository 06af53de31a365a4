import type { EchoTarget } from '../lib/catalog.js'
import { ECHO_BASELINES, ECHO_TARGETS, unavailableReason } from '../lib/catalog.js'
import type { EchoJob, EchoSnapshot } from '../lib/load-protocol.js'
import type { BenchOptions } from '../lib/options.js'
import type { BenchProcess } from '../lib/processes.js'
import type { StartedTarget } from '../lib/session.js'
import { delay, errorMessage, startLoad, startTarget } from '../lib/session.js'
import type { LatencySummary } from '../lib/stats.js'
import { ratio } from '../lib/stats.js'
import type { TargetConfig } from '../lib/target-protocol.js'

/** One echo measurement: one target, one run, one payload size. */
export interface EchoMeasurement {
  target: string
  run: number
  payloadBytes: number
  /** Replies per second in the window. */
  rate: number | null
  /** CPU of the target in the window, as a fraction of one core. */
  serverCpu: number | null
  /** CPU of the load generator in the window, as a fraction of one core. */
  loadCpu: number | null
  /** CPU of the target per reply, in µs. */
  serverCpuPerMessage: number | null
  /** CPU of the load generator (the client) per round trip, in µs. */
  clientCpuPerRoundTrip: number | null
  latency: LatencySummary | null
  /** Connections lost during the load. */
  dropped: number
  error: string | null
}

/** Echo targets selected by `--only` (plus the baselines) that can run, and those skipped. */
export function selectEchoTargets (options: BenchOptions): { targets: EchoTarget[], skipped: string[] } {
  const wanted = options.only === null ? null : new Set([...options.only, ...ECHO_BASELINES])
  const targets: EchoTarget[] = []
  const skipped: string[] = []
  for (const target of ECHO_TARGETS) {
    if (wanted !== null && !wanted.has(target.name)) continue
    const reason = unavailableReason(target.script, target.driver)
    if (reason === null) targets.push(target)
    else skipped.push(`${target.name}: skipped, ${reason}`)
  }
  return { targets, skipped }
}

/** Target settings of the echo scenarios: every server with its out-of-the-box heartbeat. */
function echoConfig (connections: number): TargetConfig {
  return { heartbeat: 'default', pingInterval: 0, pongTimeout: 0, maxConnections: Math.max(1000, connections * 2) }
}

async function startBoth (target: EchoTarget, connections: number, options: BenchOptions): Promise<[StartedTarget, BenchProcess]> {
  const [server, load] = await Promise.allSettled([
    startTarget(target.script, echoConfig(connections), options, target.name),
    startLoad(options, target.name)
  ])
  if (server.status === 'fulfilled' && load.status === 'fulfilled') return [server.value, load.value]
  if (server.status === 'fulfilled') await server.value.stop()
  if (load.status === 'fulfilled') await load.value.stop()
  throw server.status === 'rejected' ? server.reason : (load as PromiseRejectedResult).reason
}

/**
 * Start `target` and a fresh load generator, run the echo load for `warmup` ms, then measure for
 * `duration` ms: replies, CPU of both processes and (with `recordLatency`) round-trip times.
 * Failures are recorded in the measurement, not thrown, so one broken target does not stop a run.
 */
export async function measureEcho (
  target: EchoTarget, job: Omit<EchoJob, 'driver' | 'port'>, timing: { warmup: number, duration: number },
  options: BenchOptions, run: number
): Promise<EchoMeasurement> {
  const result: EchoMeasurement = {
    target: target.name, run, payloadBytes: job.payloadBytes, rate: null, serverCpu: null, loadCpu: null, serverCpuPerMessage: null, clientCpuPerRoundTrip: null, latency: null, dropped: 0, error: null
  }
  let processes: [StartedTarget, BenchProcess] | undefined
  try {
    processes = await startBoth(target, job.connections, options)
    const [server, load] = processes
    await load.rpc.request('echo:start', { ...job, driver: target.driver, port: server.port } satisfies EchoJob, 60_000)
    await delay(timing.warmup)
    const snapshot = (): Promise<[EchoSnapshot, Awaited<ReturnType<StartedTarget['stats']>>]> => Promise.all([
      load.rpc.request<EchoSnapshot>('echo:snapshot', { resetLatency: true }),
      server.stats()
    ])
    const [load0, server0] = await snapshot()
    await delay(timing.duration)
    const [load1, server1] = await snapshot()
    await load.rpc.request('echo:stop')
    const elapsed = load1.time - load0.time
    result.rate = (load1.replies - load0.replies) / (elapsed / 1000)
    result.loadCpu = (load1.cpu - load0.cpu) / (elapsed * 1000)
    result.serverCpu = (server1.cpu - server0.cpu) / ((server1.time - server0.time) * 1000)
    result.serverCpuPerMessage = ratio(result.serverCpu * 1e6, result.rate)
    result.clientCpuPerRoundTrip = ratio(result.loadCpu * 1e6, result.rate)
    result.latency = load1.latency
    result.dropped = load1.dropped
  } catch (error) {
    result.error = errorMessage(error)
  } finally {
    if (processes !== undefined) await Promise.all(processes.map((child) => child.stop()))
  }
  return result
}

/** Lines that flag measurements the reader should not trust as they stand. */
export function measurementWarnings (measurements: EchoMeasurement[]): string[] {
  const warnings: string[] = []
  for (const m of measurements) {
    const where = `${m.target}, run ${m.run}, ${m.payloadBytes} B`
    if (m.error !== null) warnings.push(`${where}: failed: ${m.error}`)
    if (m.dropped > 0) warnings.push(`${where}: ${m.dropped} connection(s) dropped during the load`)
    if (m.loadCpu !== null && m.loadCpu > 0.9) {
      warnings.push(`${where}: load generator at ${Math.round(m.loadCpu * 100)} % of its core, the figure may be bounded by the client`)
    }
  }
  return warnings
}
