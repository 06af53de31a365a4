import { readdirSync, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { figureCaption, figurePanels, figuresTable, formatCheck, issue12Checks, type ResultRecord } from './lib/figures.js'
import { renderRatioChart } from './lib/ratio-chart.js'

/**
 * `node --import tsx bench/figures.ts [--throughput <json>] [--latency <json>] [--svg <path>]`:
 * prints the table and checks of docs/benchmarks.md (markdown, stdout) and writes the ratio chart
 * (SVG) from the result files of `npm run bench -- --scenario throughput,latency`. Without paths
 * it takes the newest `throughput-*.json` and `latency-*.json` in bench/results.
 */
const RESULTS_DIR = fileURLToPath(new URL('results/', import.meta.url))
const DEFAULT_SVG = fileURLToPath(new URL('../docs/benchmarks-ratios.svg', import.meta.url))

function newest (prefix: string): string | null {
  // Timestamps in the names sort like the dates they carry.
  const names = readdirSync(RESULTS_DIR).filter((name) => name.startsWith(`${prefix}-`) && name.endsWith('.json')).sort()
  const last = names.at(-1)
  return last === undefined ? null : join(RESULTS_DIR, last)
}

function read (path: string): ResultRecord {
  return JSON.parse(readFileSync(path, 'utf8')) as ResultRecord
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: { throughput: { type: 'string' }, latency: { type: 'string' }, svg: { type: 'string' } }
  })
  const throughputPath = values.throughput ?? newest('throughput')
  if (throughputPath == null) throw new Error(`no throughput-*.json in ${RESULTS_DIR}: run npm run bench -- --scenario throughput,latency first`)
  const latencyPath = values.latency ?? newest('latency')
  const throughput = read(throughputPath)
  const latency = latencyPath == null ? null : read(latencyPath)
  const payloads = [...new Set(throughput.measurements.map((m) => m.payloadBytes))].sort((a, b) => a - b)

  const caption = figureCaption(throughput)
  if (latency !== null && latency.machine.commit !== throughput.machine.commit) {
    console.error(`[figures] warning: ${latencyPath ?? ''} was measured on another commit than ${throughputPath}`)
  }
  console.log([
    `From ${throughputPath}${latency === null ? '' : ` and ${latencyPath ?? ''}`}.`,
    '',
    caption.join('\n'),
    '',
    figuresTable(throughput, latency, payloads),
    '',
    'Targets of issue 12 (plugin, reliable + ReliableClient; median of per-run ratios):',
    '',
    ...issue12Checks(throughput, latency, payloads).map(formatCheck),
    ''
  ].join('\n'))

  const svgPath = values.svg ?? DEFAULT_SVG
  await writeFile(svgPath, renderRatioChart(figurePanels(throughput, latency, payloads), caption))
  console.error(`[figures] chart written to ${svgPath}`)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
})
