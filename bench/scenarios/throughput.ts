import type { EchoTarget } from '../lib/catalog.js'
import { BASELINE_LABELS, ECHO_BASELINES, THROUGHPUT_CHECKS } from '../lib/catalog.js'
import type { BenchOptions } from '../lib/options.js'
import { formatCore, formatCount, formatNumber, formatRatio, formatRatioRange, formatRatioSummary, markdownTable } from '../lib/report.js'
import type { RatioSummary } from '../lib/stats.js'
import { median, pairedRatios, range, summarizeRatios } from '../lib/stats.js'
import type { EchoMeasurement } from './echo-measure.js'
import { measureEcho, measurementWarnings, selectEchoTargets } from './echo-measure.js'
import type { ScenarioReport } from './scenario.js'

/** One row of the throughput summary: a target at one payload size, over all runs. */
export interface ThroughputRow {
  target: string
  label: string
  payloadBytes: number
  runs: number
  /** Median replies per second. */
  rate: number | null
  rateRange: [number, number] | null
  /** Per-run ratios of the rate against each baseline, summarised. */
  versus: Record<string, RatioSummary>
  serverCpu: number | null
  loadCpu: number | null
  /** Median server CPU per message, in µs. */
  serverCpuPerMessage: number | null
  /** Median client (load process) CPU per round trip, in µs. */
  clientCpuPerRoundTrip: number | null
  /** Per-run ratios of the client CPU per round trip against each baseline. */
  clientVersus: Record<string, RatioSummary>
}

function summarize (targets: EchoTarget[], measurements: EchoMeasurement[], payloadBytes: number): ThroughputRow[] {
  return targets.map((target) => {
    const mine = measurements.filter((m) => m.target === target.name && m.payloadBytes === payloadBytes && m.rate !== null)
    const versus: Record<string, RatioSummary> = {}
    const clientVersus: Record<string, RatioSummary> = {}
    for (const baseline of ECHO_BASELINES) {
      versus[baseline] = summarizeRatios(pairedRatios(measurements, target.name, baseline, payloadBytes, (m) => m.rate))
      clientVersus[baseline] = summarizeRatios(pairedRatios(measurements, target.name, baseline, payloadBytes, (m) => m.clientCpuPerRoundTrip))
    }
    return {
      target: target.name,
      label: target.label,
      payloadBytes,
      runs: mine.length,
      rate: median(mine.map((m) => m.rate)),
      rateRange: range(mine.map((m) => m.rate)),
      versus,
      serverCpu: median(mine.map((m) => m.serverCpu)),
      loadCpu: median(mine.map((m) => m.loadCpu)),
      serverCpuPerMessage: median(mine.map((m) => m.serverCpuPerMessage)),
      clientCpuPerRoundTrip: median(mine.map((m) => m.clientCpuPerRoundTrip)),
      clientVersus
    }
  })
}

function checks (measurements: EchoMeasurement[], payloadBytes: number): string[] {
  const lines: string[] = []
  for (const check of THROUGHPUT_CHECKS) {
    const summary = summarizeRatios(pairedRatios(measurements, check.target, check.baseline, payloadBytes, (m) => m[check.metric]))
    if (summary.median === null || summary.low === null || summary.high === null) continue
    // The worst run decides: the lowest ratio for a floor, the highest for a ceiling.
    const met = (check.atLeast === undefined || summary.low >= check.atLeast) && (check.atMost === undefined || summary.high <= check.atMost)
    lines.push(`- ${check.label}: ${formatRatioRange(summary.low, summary.high)} (median ${formatRatio(summary.median)}): ${met ? 'met' : 'NOT met'}`)
  }
  return lines
}

/**
 * Scenario A: closed-loop echo throughput. Every target runs for every payload size in every
 * run, interleaved so that drift of the shared machine spreads over all targets; ratios are
 * taken between measurements of the same run.
 */
export async function runThroughput (options: BenchOptions, progress: (line: string) => void): Promise<ScenarioReport> {
  const settings = options.throughput
  const { targets, skipped } = selectEchoTargets(options)
  const measurements: EchoMeasurement[] = []
  for (let run = 1; run <= options.runs; run++) {
    for (const payloadBytes of settings.payloads) {
      for (const target of targets) {
        progress(`throughput: run ${run}/${options.runs}, ${payloadBytes} B, ${target.name}`)
        measurements.push(await measureEcho(target, {
          connections: settings.connections, inFlight: settings.inFlight, payloadBytes, recordLatency: false
        }, settings, options, run))
      }
    }
  }

  const sections: string[] = []
  const rows: ThroughputRow[] = []
  for (const payloadBytes of settings.payloads) {
    const payloadRows = summarize(targets, measurements, payloadBytes)
    rows.push(...payloadRows)
    sections.push(
      `### Echo throughput, ${payloadBytes} B, ${settings.connections} connections × ${settings.inFlight} in flight ` +
      `(median of ${options.runs} run${options.runs === 1 ? '' : 's'}, ${settings.duration} ms each)`,
      '',
      markdownTable(
        ['target', 'msg/s', 'range', ...ECHO_BASELINES.map((name) => `vs ${BASELINE_LABELS[name]}`), 'server CPU', 'load CPU',
          'server µs/msg', 'client µs/round trip', `client vs ${BASELINE_LABELS['fastify-websocket-ws']}`],
        payloadRows.map((row) => [
          row.label,
          formatCount(row.rate),
          row.rateRange === null || row.rateRange[0] === row.rateRange[1] ? '–' : `${formatCount(row.rateRange[0])}–${formatCount(row.rateRange[1])}`,
          ...ECHO_BASELINES.map((name) => formatRatioSummary(row.versus[name])),
          formatCore(row.serverCpu),
          formatCore(row.loadCpu),
          formatNumber(row.serverCpuPerMessage, 1),
          formatNumber(row.clientCpuPerRoundTrip, 1),
          formatRatioSummary(row.clientVersus['fastify-websocket-ws'])
        ])
      ),
      ''
    )
    const checkLines = checks(measurements, payloadBytes)
    if (checkLines.length > 0) sections.push(`Targets of issue 12 at ${payloadBytes} B (the worst run must reach the goal):`, ...checkLines, '')
  }
  const notes = [...skipped, ...measurementWarnings(measurements)]
  if (notes.length > 0) sections.push('Notes:', ...notes.map((note) => `- ${note}`), '')

  return {
    markdown: sections.join('\n'),
    json: { settings, targets: targets.map((target) => target.name), skipped, summary: rows, measurements }
  }
}
