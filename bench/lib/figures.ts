/**
 * The figures of docs/benchmarks.md from the result files of one `npm run bench` (throughput and
 * latency scenarios): the table of issue 12 and the panels of its ratio chart. Pure functions
 * over the parsed JSON; bench/figures.ts reads the files and writes the outputs.
 */
import type { ChartPanel } from './ratio-chart.js'
import { formatCount, formatNumber, formatRatio, markdownTable } from './report.js'
import { median, pairedRatios } from './stats.js'

/** The part of a measurement (scenarios/echo-measure.ts) the figures read. */
export interface MeasurementRecord {
  target: string
  run: number
  payloadBytes: number
  rate: number | null
  serverCpuPerMessage?: number | null
  clientCpuPerRoundTrip?: number | null
  latency: { p50: number } | null
}

/** The part of a result file the figures read. */
export interface ResultRecord {
  quick: boolean
  runs: number
  startedAt: string
  machine: { node: string, cpu: string, cores: number, loadAverage: number[], commit: string | null, pinned: boolean }
  measurements: MeasurementRecord[]
}

/** Rows of the table and groups of the chart, in order: target name and label. */
export const FIGURE_ROWS: ReadonlyArray<{ target: string, label: string }> = [
  { target: 'raw-ws', label: 'raw ws' },
  { target: 'fastify-websocket', label: '@fastify/websocket' },
  { target: 'fastify-websocket-ws', label: '@fastify/websocket + bare ws client' },
  { target: 'socketio-acks', label: 'Socket.IO with acks' },
  { target: 'plugin-plain', label: 'plugin, plain route' },
  { target: 'plugin-reliable', label: 'plugin, reliable + ReliableClient' },
  { target: 'plugin-reliable-frames', label: 'plugin, reliable + frame driver' }
]

/** Rows driven by a real client, whose client CPU is what an application pays. */
const CLIENT_ROWS = ['fastify-websocket-ws', 'socketio-acks', 'plugin-reliable']

type Metric = (m: MeasurementRecord) => number | null | undefined

const rate: Metric = (m) => m.rate
const serverCpu: Metric = (m) => m.serverCpuPerMessage
const clientCpu: Metric = (m) => m.clientCpuPerRoundTrip
const p50: Metric = (m) => m.latency?.p50

/** Median over runs of `metric` for `target` at `payloadBytes`. */
export function medianOf (records: readonly MeasurementRecord[], target: string, payloadBytes: number, metric: Metric): number | null {
  return median(records.filter((m) => m.target === target && m.payloadBytes === payloadBytes).map((m) => metric(m) ?? null))
}

/** Median over runs of the per-run ratio `metric(target) / metric(baseline)` (same run, same payload). */
export function medianRatio (
  records: readonly MeasurementRecord[], target: string, baseline: string, payloadBytes: number, metric: Metric
): number | null {
  return median(pairedRatios(records, target, baseline, payloadBytes, metric))
}

function sizeLabel (bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`
}

/**
 * The table of docs/benchmarks.md: per payload msg/s, ratios to @fastify/websocket and raw ws,
 * server µs per message and client µs per round trip; then the round-trip p50 and its ratio.
 */
export function figuresTable (throughput: ResultRecord, latency: ResultRecord | null, payloads: readonly number[]): string {
  const latencyBytes = latency?.measurements[0]?.payloadBytes ?? 64
  const headers = ['target']
  for (const bytes of payloads) {
    const size = sizeLabel(bytes)
    headers.push(`${size} msg/s`, 'x @fastify/websocket', 'x ws', 'server µs/msg', 'client µs/round trip')
  }
  headers.push('client x bare ws', `p50 round trip µs (${sizeLabel(latencyBytes)})`, 'p50 x @fastify/websocket')
  const rows = FIGURE_ROWS.map(({ target, label }) => {
    const m = throughput.measurements
    const cells = [label]
    for (const bytes of payloads) {
      cells.push(
        formatCount(medianOf(m, target, bytes, rate)),
        formatRatio(medianRatio(m, target, 'fastify-websocket', bytes, rate)),
        formatRatio(medianRatio(m, target, 'raw-ws', bytes, rate)),
        formatNumber(medianOf(m, target, bytes, serverCpu), 1),
        formatNumber(medianOf(m, target, bytes, clientCpu), 1)
      )
    }
    const clientRatios = CLIENT_ROWS.includes(target)
      ? payloads.map((bytes) => formatRatio(medianRatio(m, target, 'fastify-websocket-ws', bytes, clientCpu))).join(' / ')
      : '–'
    const l = latency?.measurements ?? []
    cells.push(clientRatios, formatNumber(medianOf(l, target, latencyBytes, p50), 0), formatRatio(medianRatio(l, target, 'fastify-websocket', latencyBytes, p50)))
    return cells
  })
  return markdownTable(headers, rows)
}

/** A check of issue 12: a ratio with its bound. */
export interface FigureCheck {
  label: string
  ratio: number | null
  atLeast?: number
  atMost?: number
}

/** The targets of issue 12 on the reliable route with its client, median ratios of the same runs. */
export function issue12Checks (throughput: ResultRecord, latency: ResultRecord | null, payloads: readonly number[]): FigureCheck[] {
  const m = throughput.measurements
  const checks: FigureCheck[] = []
  for (const bytes of payloads) {
    const size = sizeLabel(bytes)
    checks.push(
      { label: `${size}: msg/s vs @fastify/websocket`, ratio: medianRatio(m, 'plugin-reliable', 'fastify-websocket', bytes, rate), atLeast: 1 },
      { label: `${size}: msg/s vs Socket.IO with acks`, ratio: medianRatio(m, 'plugin-reliable', 'socketio-acks', bytes, rate), atLeast: 2 },
      { label: `${size}: server CPU per message vs @fastify/websocket`, ratio: medianRatio(m, 'plugin-reliable', 'fastify-websocket', bytes, serverCpu), atMost: 1.2 },
      { label: `${size}: client CPU per round trip vs bare ws client`, ratio: medianRatio(m, 'plugin-reliable', 'fastify-websocket-ws', bytes, clientCpu), atMost: 1.3 }
    )
  }
  if (latency !== null) {
    const bytes = latency.measurements[0]?.payloadBytes ?? 64
    checks.push({ label: `${sizeLabel(bytes)}: round-trip p50 vs @fastify/websocket`, ratio: medianRatio(latency.measurements, 'plugin-reliable', 'fastify-websocket', bytes, p50), atMost: 1.15 })
  }
  return checks
}

/** A check as a markdown list line: `- 64 B: ... 0.93x (goal at least 1.0x): NOT met`. */
export function formatCheck (check: FigureCheck): string {
  const goal = check.atLeast !== undefined ? `at least ${check.atLeast}x` : `at most ${check.atMost ?? '?'}x`
  if (check.ratio === null) return `- ${check.label}: not measured (goal ${goal})`
  const met = (check.atLeast === undefined || check.ratio >= check.atLeast) && (check.atMost === undefined || check.ratio <= check.atMost)
  return `- ${check.label}: ${formatRatio(check.ratio)} (goal ${goal}): ${met ? 'met' : 'NOT met'}`
}

/** The panels of docs/benchmarks-ratios.svg. */
export function figurePanels (throughput: ResultRecord, latency: ResultRecord | null, payloads: readonly number[]): ChartPanel[] {
  const m = throughput.measurements
  const series = payloads.map(sizeLabel)
  const others = FIGURE_ROWS.filter((row) => row.target !== 'fastify-websocket')
  const panels: ChartPanel[] = [
    {
      title: 'Echo throughput, x @fastify/websocket (higher is better)',
      series,
      groups: others.map(({ target, label }) => ({ label, values: payloads.map((bytes) => medianRatio(m, target, 'fastify-websocket', bytes, rate)) })),
      references: [1]
    },
    {
      title: 'Server CPU per message, x @fastify/websocket (lower is better; goal for reliable: 1.2x)',
      series,
      groups: others.map(({ target, label }) => ({ label, values: payloads.map((bytes) => medianRatio(m, target, 'fastify-websocket', bytes, serverCpu)) })),
      references: [1, 1.2]
    },
    {
      title: 'Client CPU per round trip, x bare ws client (lower is better; goal: 1.3x)',
      series,
      groups: FIGURE_ROWS.filter((row) => CLIENT_ROWS.includes(row.target) && row.target !== 'fastify-websocket-ws')
        .map(({ target, label }) => ({ label, values: payloads.map((bytes) => medianRatio(m, target, 'fastify-websocket-ws', bytes, clientCpu)) })),
      references: [1, 1.3]
    }
  ]
  if (latency !== null) {
    const bytes = latency.measurements[0]?.payloadBytes ?? 64
    panels.push({
      title: `Round-trip p50, ${sizeLabel(bytes)}, 1 in flight, x @fastify/websocket (lower is better; goal: 1.15x)`,
      series: ['p50'],
      groups: others.map(({ target, label }) => ({ label, values: [medianRatio(latency.measurements, target, 'fastify-websocket', bytes, p50)] })),
      references: [1, 1.15]
    })
  }
  return panels
}

/** The chart's footnote lines: when, where and how the figures were taken. */
export function figureCaption (throughput: ResultRecord): string[] {
  const machine = throughput.machine
  const lines = [
    `${throughput.startedAt.slice(0, 16).replace('T', ' ')} UTC, Node ${machine.node}, ${machine.cores} × ${machine.cpu}, load average ${machine.loadAverage[0]} at the start,`,
    `commit ${machine.commit?.slice(0, 10) ?? 'unknown'}, ${machine.pinned ? 'server and load on separate cores' : 'not pinned'}, ` +
      `median of ${throughput.runs} run${throughput.runs === 1 ? '' : 's'}; ratios taken within each run.`
  ]
  if (throughput.quick || throughput.runs < 3) lines.push('LOADED-MACHINE SMOKE FIGURES (--quick or fewer than 3 runs): they check the pipeline, they are not a measurement.')
  return lines
}
