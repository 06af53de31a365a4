/** Median of the finite values, or null when there are none. */
export function median (values: ReadonlyArray<number | null>): number | null {
  const finite = values.filter((value): value is number => value !== null && Number.isFinite(value)).sort((a, b) => a - b)
  if (finite.length === 0) return null
  const middle = finite.length >> 1
  return finite.length % 2 === 1 ? finite[middle] : (finite[middle - 1] + finite[middle]) / 2
}

/** Smallest and largest of the finite values, or null when there are none. */
export function range (values: ReadonlyArray<number | null>): [number, number] | null {
  const finite = values.filter((value): value is number => value !== null && Number.isFinite(value))
  if (finite.length === 0) return null
  return [Math.min(...finite), Math.max(...finite)]
}

/** `numerator / denominator`, or null when either is missing or the denominator is 0. */
export function ratio (numerator: number | null | undefined, denominator: number | null | undefined): number | null {
  if (numerator == null || denominator == null || denominator === 0) return null
  return numerator / denominator
}

/** Median and range of per-run ratios. */
export interface RatioSummary {
  median: number | null
  low: number | null
  high: number | null
}

/** Summarise per-run ratios. */
export function summarizeRatios (ratios: number[]): RatioSummary {
  const span = range(ratios)
  return { median: median(ratios), low: span?.[0] ?? null, high: span?.[1] ?? null }
}

/** Latency percentiles of one measurement window, in µs. */
export interface LatencySummary {
  count: number
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

/** Nearest-rank percentile `p` (0-100) of ascending `sorted`. */
function percentile (sorted: Float64Array, p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

/** Summarise round-trip samples given in µs; null when there are none. */
export function summarizeLatency (samples: Float64Array): LatencySummary | null {
  if (samples.length === 0) return null
  const sorted = Float64Array.from(samples).sort()
  let sum = 0
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
    mean: sum / sorted.length
  }
}

/** What pairs measurements across targets: the run and the payload size. */
export interface RunRecord {
  target: string
  run: number
  payloadBytes: number
}

/** Per-run ratios `pick(target) / pick(baseline)` between measurements of the same run and payload. */
export function pairedRatios<T extends RunRecord> (
  measurements: readonly T[], target: string, baseline: string, payloadBytes: number,
  pick: (measurement: T) => number | null | undefined
): number[] {
  const ratios: number[] = []
  for (const mine of measurements) {
    if (mine.target !== target || mine.payloadBytes !== payloadBytes) continue
    const theirs = measurements.find((other) => other.target === baseline && other.run === mine.run && other.payloadBytes === payloadBytes)
    const value = ratio(pick(mine), theirs === undefined ? null : pick(theirs))
    if (value !== null) ratios.push(value)
  }
  return ratios
}
