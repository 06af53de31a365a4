import type { HeartbeatVariant } from '../lib/catalog.js'
import { HEARTBEAT_CHECKS, HEARTBEAT_VARIANTS, unavailableReason } from '../lib/catalog.js'
import type { BenchOptions } from '../lib/options.js'
import { formatCount, formatNumber, formatRatioSummary, markdownTable } from '../lib/report.js'
import type { RatioSummary } from '../lib/stats.js'
import { median, summarizeRatios } from '../lib/stats.js'
import type { HeartbeatMeasurement } from './heartbeat-measure.js'
import { measureHeartbeat } from './heartbeat-measure.js'
import type { ScenarioReport } from './scenario.js'

/** One row of the heartbeat summary: a variant over all runs (medians). */
export interface HeartbeatRow {
  variant: string
  label: string
  runs: number
  held: number | null
  rssPerConnection: number | null
  heapPerConnection: number | null
  cpuPerSecond: number | null
  pingsPerSecond: number | null
  /** Server CPU per ping-pong above the variant's baseline, in µs. */
  cpuPerPingPong: number | null
  /** RSS per connection against the memory baseline, per run. */
  rssVersusBaseline: RatioSummary
  /** Most pings seen on busy connections in any run. */
  busyPings: number | null
  dropped: number | null
}

function selectVariants (options: BenchOptions): { variants: HeartbeatVariant[], skipped: string[] } {
  let wanted: Set<string> | null = null
  if (options.only !== null) {
    wanted = new Set([...options.only, HEARTBEAT_CHECKS.classic, HEARTBEAT_CHECKS.memoryBaseline])
    for (const variant of HEARTBEAT_VARIANTS) {
      if (wanted.has(variant.name) && variant.baseline !== null) wanted.add(variant.baseline)
    }
  }
  const variants: HeartbeatVariant[] = []
  const skipped: string[] = []
  for (const variant of HEARTBEAT_VARIANTS) {
    if (wanted !== null && !wanted.has(variant.name)) continue
    const reason = unavailableReason(variant.script)
    if (reason === null) variants.push(variant)
    else skipped.push(`${variant.name}: skipped, ${reason}`)
  }
  return { variants, skipped }
}

function find (measurements: HeartbeatMeasurement[], variant: string, run: number): HeartbeatMeasurement | undefined {
  return measurements.find((m) => m.variant === variant && m.run === run && m.error === null)
}

/** Server CPU per ping-pong in one run, in µs: CPU above the baseline variant's, per ping the clients saw. */
function cpuPerPingPong (measurements: HeartbeatMeasurement[], variant: HeartbeatVariant, run: number): number | null {
  const mine = find(measurements, variant.name, run)
  if (mine === undefined || mine.cpuPerSecond === null || mine.windowSeconds === null || mine.pings === 0) return null
  let baselineCpu = 0
  if (variant.baseline !== null) {
    const theirs = find(measurements, variant.baseline, run)
    if (theirs === undefined || theirs.cpuPerSecond === null) return null
    baselineCpu = theirs.cpuPerSecond
  }
  return (mine.cpuPerSecond - baselineCpu) / (mine.pings / mine.windowSeconds)
}

function perRun (options: BenchOptions, pick: (run: number) => number | null): number[] {
  const values: number[] = []
  for (let run = 1; run <= options.runs; run++) {
    const value = pick(run)
    if (value !== null && Number.isFinite(value)) values.push(value)
  }
  return values
}

function kib (bytes: number | null): string {
  return bytes === null ? '–' : (bytes / 1024).toFixed(2)
}

function maxOf (values: number[]): number | null {
  return values.length === 0 ? null : Math.max(...values)
}

/**
 * Scenario C: the cost of heartbeats on idle connections. Each variant gets a fresh server and a
 * fresh client process per run, variants interleaved within a run.
 */
export async function runHeartbeat (options: BenchOptions, progress: (line: string) => void): Promise<ScenarioReport> {
  const settings = options.heartbeat
  const { variants, skipped } = selectVariants(options)
  const measurements: HeartbeatMeasurement[] = []
  for (let run = 1; run <= options.runs; run++) {
    for (const variant of variants) {
      progress(`heartbeat: run ${run}/${options.runs}, ${variant.name}, ${settings.connections} connections`)
      measurements.push(await measureHeartbeat(variant, options, run))
    }
  }

  const rssOf = (name: string, run: number): number | null => find(measurements, name, run)?.rssPerConnection ?? null
  const rows: HeartbeatRow[] = variants.map((variant) => {
    const mine = measurements.filter((m) => m.variant === variant.name && m.error === null)
    return {
      variant: variant.name,
      label: variant.label,
      runs: mine.length,
      held: median(mine.map((m) => m.held)),
      rssPerConnection: median(mine.map((m) => m.rssPerConnection)),
      heapPerConnection: median(mine.map((m) => m.heapPerConnection)),
      cpuPerSecond: median(mine.map((m) => m.cpuPerSecond)),
      pingsPerSecond: median(mine.map((m) => m.windowSeconds === null ? null : m.pings / m.windowSeconds)),
      cpuPerPingPong: median(perRun(options, (run) => cpuPerPingPong(measurements, variant, run))),
      rssVersusBaseline: summarizeRatios(perRun(options, (run) => {
        const mineRss = rssOf(variant.name, run)
        const baseRss = rssOf(HEARTBEAT_CHECKS.memoryBaseline, run)
        return mineRss === null || baseRss === null || baseRss === 0 ? null : mineRss / baseRss
      })),
      busyPings: maxOf(mine.map((m) => m.busyPings)),
      dropped: maxOf(mine.map((m) => m.dropped))
    }
  })

  const byName = new Map(HEARTBEAT_VARIANTS.map((variant) => [variant.name, variant]))
  const ours = byName.get(HEARTBEAT_CHECKS.ours)
  const classic = byName.get(HEARTBEAT_CHECKS.classic)
  const cpuRatio = summarizeRatios(perRun(options, (run) => {
    if (ours === undefined || classic === undefined) return null
    const mine = cpuPerPingPong(measurements, ours, run)
    const theirs = cpuPerPingPong(measurements, classic, run)
    return mine === null || theirs === null || theirs === 0 ? null : mine / theirs
  }))
  const oursRow = rows.find((row) => row.variant === HEARTBEAT_CHECKS.ours)

  const verdict = (ok: boolean | null): string => ok === null ? 'not measured' : ok ? 'met' : 'NOT met'
  const checkLines = [
    `- CPU per ping-pong, plugin vs classic setInterval: ${formatRatioSummary(cpuRatio)} (goal <= ${HEARTBEAT_CHECKS.cpuAtMost}x): ` +
      verdict(cpuRatio.high === null ? null : cpuRatio.high <= HEARTBEAT_CHECKS.cpuAtMost),
    `- RSS per idle connection, plugin with heartbeat vs @fastify/websocket without: ${formatRatioSummary(oursRow?.rssVersusBaseline ?? summarizeRatios([]))} ` +
      `(goal <= ${HEARTBEAT_CHECKS.memoryAtMost}x): ` +
      verdict(oursRow?.rssVersusBaseline.high == null ? null : oursRow.rssVersusBaseline.high <= HEARTBEAT_CHECKS.memoryAtMost),
    `- pings on connections that carried traffic, plugin: ${formatCount(oursRow?.busyPings ?? null)} (goal 0): ` +
      verdict(oursRow?.busyPings == null ? null : oursRow.busyPings === 0)
  ]

  const notes = [...skipped]
  if (oursRow !== undefined && oursRow.pingsPerSecond === 0) {
    notes.push(`${HEARTBEAT_CHECKS.ours}: the clients saw no pings at all: the plugin's heartbeat is not active (is the \`heartbeat\` option wired?)`)
  }
  for (const m of measurements) {
    if (m.error !== null) notes.push(`${m.variant}, run ${m.run}: ${m.error}`)
    else if (m.dropped > 0) notes.push(`${m.variant}, run ${m.run}: ${m.dropped} client connection(s) closed during the measurement`)
  }

  const sections = [
    `### Heartbeat cost, ${formatCount(settings.connections)} idle connections, pingInterval ${settings.pingInterval} ms, ` +
      `pongTimeout ${settings.pongTimeout} ms (median of ${options.runs} run${options.runs === 1 ? '' : 's'}, ` +
      `${settings.window} ms idle window, ${settings.trafficWindow} ms traffic window)`,
    '',
    markdownTable(
      ['variant', 'held', 'RSS KiB/conn', 'heap KiB/conn', 'RSS vs fws none', 'server CPU µs/s', 'pings/s', 'CPU µs/ping-pong', 'pings when busy', 'dropped'],
      rows.map((row) => [
        row.label,
        formatCount(row.held),
        kib(row.rssPerConnection),
        kib(row.heapPerConnection),
        formatRatioSummary(row.rssVersusBaseline),
        formatCount(row.cpuPerSecond),
        formatCount(row.pingsPerSecond),
        formatNumber(row.cpuPerPingPong, 1),
        formatCount(row.busyPings),
        formatCount(row.dropped)
      ])
    ),
    '',
    'CPU per ping-pong is the server CPU above the variant\'s no-heartbeat counterpart (classic: @fastify/websocket ' +
      'without heartbeat; plugin: the plugin with `heartbeat: false`), divided by the pings the clients received. ' +
      '"pings when busy": pings received while every connection sent a message each pingInterval / 2.',
    '',
    'Targets of issue 3:',
    ...checkLines,
    ''
  ]
  if (notes.length > 0) sections.push('Notes:', ...notes.map((note) => `- ${note}`), '')

  return {
    markdown: sections.join('\n'),
    json: { settings, variants: variants.map((variant) => variant.name), skipped, summary: rows, cpuPerPingPongRatio: cpuRatio, measurements }
  }
}
