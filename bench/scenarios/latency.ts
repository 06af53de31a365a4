import { BASELINE_LABELS, ECHO_BASELINES } from '../lib/catalog.js'
import type { BenchOptions } from '../lib/options.js'
import { formatCore, formatCount, formatNumber, formatRatioSummary, markdownTable } from '../lib/report.js'
import type { RatioSummary } from '../lib/stats.js'
import { median, pairedRatios, summarizeRatios } from '../lib/stats.js'
import type { EchoMeasurement } from './echo-measure.js'
import { measureEcho, measurementWarnings, selectEchoTargets } from './echo-measure.js'
import type { ScenarioReport } from './scenario.js'

/** One row of the latency summary: a target over all runs. */
export interface LatencyRow {
  target: string
  label: string
  runs: number
  /** Medians over runs of each run's p50 and p99, in µs. */
  p50: number | null
  p99: number | null
  roundTripsPerSecond: number | null
  /** Per-run ratios of p50 and p99 against each baseline. */
  versus: Record<string, { p50: RatioSummary, p99: RatioSummary }>
  serverCpu: number | null
}

/**
 * Scenario B: round-trip latency with one message in flight per connection (one connection by
 * default). Every reply is timed in the load process; p50 and p99 per run, medians over runs.
 */
export async function runLatency (options: BenchOptions, progress: (line: string) => void): Promise<ScenarioReport> {
  const settings = options.latency
  const { targets, skipped } = selectEchoTargets(options)
  const measurements: EchoMeasurement[] = []
  for (let run = 1; run <= options.runs; run++) {
    for (const target of targets) {
      progress(`latency: run ${run}/${options.runs}, ${target.name}`)
      measurements.push(await measureEcho(target, {
        connections: settings.connections, inFlight: 1, payloadBytes: settings.payloadBytes, recordLatency: true
      }, settings, options, run))
    }
  }

  const bytes = settings.payloadBytes
  const rows: LatencyRow[] = targets.map((target) => {
    const mine = measurements.filter((m) => m.target === target.name && m.latency !== null)
    const versus: LatencyRow['versus'] = {}
    for (const baseline of ECHO_BASELINES) {
      versus[baseline] = {
        p50: summarizeRatios(pairedRatios(measurements, target.name, baseline, bytes, (m) => m.latency?.p50)),
        p99: summarizeRatios(pairedRatios(measurements, target.name, baseline, bytes, (m) => m.latency?.p99))
      }
    }
    return {
      target: target.name,
      label: target.label,
      runs: mine.length,
      p50: median(mine.map((m) => m.latency?.p50 ?? null)),
      p99: median(mine.map((m) => m.latency?.p99 ?? null)),
      roundTripsPerSecond: median(mine.map((m) => m.rate)),
      versus,
      serverCpu: median(mine.map((m) => m.serverCpu))
    }
  })

  const sections = [
    `### Round trip, ${bytes} B, ${settings.connections} connection${settings.connections === 1 ? '' : 's'} × 1 in flight ` +
    `(median of ${options.runs} run${options.runs === 1 ? '' : 's'}, ${settings.duration} ms each; lower is better)`,
    '',
    markdownTable(
      ['target', 'p50 µs', 'p99 µs', ...ECHO_BASELINES.flatMap((name) => [`p50 vs ${BASELINE_LABELS[name]}`, `p99 vs ${BASELINE_LABELS[name]}`]),
        'round trips/s', 'server CPU'],
      rows.map((row) => [
        row.label,
        formatNumber(row.p50, 0),
        formatNumber(row.p99, 0),
        ...ECHO_BASELINES.flatMap((name) => [formatRatioSummary(row.versus[name].p50), formatRatioSummary(row.versus[name].p99)]),
        formatCount(row.roundTripsPerSecond),
        formatCore(row.serverCpu)
      ])
    ),
    ''
  ]
  const notes = [...skipped, ...measurementWarnings(measurements)]
  if (notes.length > 0) sections.push('Notes:', ...notes.map((note) => `- ${note}`), '')

  return {
    markdown: sections.join('\n'),
    json: { settings, targets: targets.map((target) => target.name), skipped, summary: rows, measurements }
  }
}
