/**
 * Summarises V8 CPU profiles (`.cpuprofile`, as `--cpu-prof` writes them): self time per function,
 * the share of garbage collection, and the top entries. Proportions hold on a loaded machine,
 * which is why the server-side work of issue 12 steers by them.
 *
 *   node --import tsx bench/tools/profile-summary.ts <file or folder>... [--top 25]
 *
 * A folder is searched for `.cpuprofile` files; the largest one in each folder is the main
 * thread (tsx's loader thread writes a small second profile beside it).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  hitCount?: number
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

/** Self time per function, in µs, over a whole profile. */
export function selfTimes (profile: CpuProfile): Map<string, number> {
  const byId = new Map<number, ProfileNode>()
  for (const node of profile.nodes) byId.set(node.id, node)
  const totals = new Map<string, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])
    if (node === undefined) continue
    const { functionName, url, lineNumber } = node.callFrame
    const file = url === '' ? '' : url.replace(/^.*\/(node_modules|dist|lib)\//, '$1/')
    const key = `${functionName === '' ? '(anonymous)' : functionName} ${file}${file === '' ? '' : ':' + String(lineNumber + 1)}`
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  return totals
}

function mainProfile (path: string): string {
  if (!statSync(path).isDirectory()) return path
  const files = readdirSync(path).filter((name) => name.endsWith('.cpuprofile')).map((name) => join(path, name))
  if (files.length === 0) throw new Error(`no .cpuprofile in ${path}`)
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0]
}

function summarise (path: string, top: number): void {
  const file = mainProfile(path)
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const totals = selfTimes(profile)
  let all = 0
  for (const value of totals.values()) all += value
  const idle = totals.get('(idle) ') ?? 0
  const busy = all - idle
  const gc = totals.get('(garbage collector) ') ?? 0
  console.log(`\n${file}\n  busy ${(busy / 1000).toFixed(0)} ms of ${(all / 1000).toFixed(0)} ms; GC ${(100 * gc / busy).toFixed(1)} % of busy`)
  const rows = [...totals.entries()].filter(([key]) => key !== '(idle) ').sort((a, b) => b[1] - a[1]).slice(0, top)
  for (const [key, value] of rows) console.log(`  ${(100 * value / busy).toFixed(1).padStart(5)} %  ${key}`)
}

const args = process.argv.slice(2)
const topAt = args.indexOf('--top')
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25
for (const path of args) summarise(path, top)
