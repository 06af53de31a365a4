import { spawnSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg, platform, release, totalmem } from 'node:os'
import { join } from 'node:path'

/** A markdown table; the first column is left-aligned, the others right-aligned. */
export function markdownTable (headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)))
  const line = (cells: string[]): string =>
    '| ' + cells.map((cell, column) => column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column])).join(' | ') + ' |'
  const rule = '| ' + widths.map((width, column) => column === 0 ? '-'.repeat(width) : '-'.repeat(width - 1) + ':').join(' | ') + ' |'
  return [line(headers), rule, ...rows.map(line)].join('\n')
}

/** `1234567` as `1,234,567`; `–` for null. */
export function formatCount (value: number | null): string {
  return value === null ? '–' : Math.round(value).toLocaleString('en-US')
}

/** A ratio as `0.93x`; `–` for null. */
export function formatRatio (value: number | null): string {
  return value === null ? '–' : `${value.toFixed(2)}x`
}

/** A ratio range as `0.90–1.01x`, or a single ratio when there is one run. */
export function formatRatioRange (low: number | null, high: number | null): string {
  if (low === null || high === null) return '–'
  return low === high ? formatRatio(low) : `${low.toFixed(2)}–${high.toFixed(2)}x`
}

/** A fraction of one core as `87 %`. */
export function formatCore (fraction: number | null): string {
  return fraction === null ? '–' : `${Math.round(fraction * 100)} %`
}

/** A number with `digits` decimals; `–` for null. */
export function formatNumber (value: number | null, digits = 1): string {
  return value === null ? '–' : value.toFixed(digits)
}

/** The machine and code a result was measured on. */
export interface MachineInfo {
  node: string
  platform: string
  cpu: string
  cores: number
  memoryGiB: number
  loadAverage: number[]
  commit: string | null
  workTreeDirty: boolean | null
  pinned: boolean
}

function git (args: string[]): string | null {
  const result = spawnSync('git', args, { encoding: 'utf8' })
  return result.status === 0 ? result.stdout.trim() : null
}

/** Describe this machine and the checked-out commit. */
export function machineInfo (pinned: boolean): MachineInfo {
  const status = git(['status', '--porcelain'])
  return {
    node: process.version,
    platform: `${platform()} ${release()}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    loadAverage: loadavg().map((value) => Math.round(value * 100) / 100),
    commit: git(['rev-parse', 'HEAD']),
    workTreeDirty: status === null ? null : status !== '',
    pinned
  }
}

/** Write `result` as `<outDir>/<scenario>-<timestamp>.json` and return the path. */
export async function writeResult (outDir: string, scenario: string, result: unknown): Promise<string> {
  await mkdir(outDir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z')
  const path = join(outDir, `${scenario}-${stamp}.json`)
  await writeFile(path, JSON.stringify(result, null, 2) + '\n')
  return path
}

/** A median ratio with its range over runs: `0.93x (0.90–1.01)`, or just `0.93x` for one run. */
export function formatRatioSummary (summary: { median: number | null, low: number | null, high: number | null }): string {
  if (summary.median === null) return '–'
  if (summary.low === null || summary.high === null || summary.low === summary.high) return formatRatio(summary.median)
  return `${formatRatio(summary.median)} (${summary.low.toFixed(2)}–${summary.high.toFixed(2)})`
}
