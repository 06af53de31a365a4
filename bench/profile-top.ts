import { readFileSync } from 'node:fs'

/**
 * `node --import tsx bench/profile-top.ts <file.cpuprofile> [rows]`: the functions with the most
 * self time in a V8 CPU profile (as written by `npm run bench -- --cpu-prof`), as percentages.
 */
interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

function main (): void {
  const [file, rowsArg] = process.argv.slice(2)
  if (file === undefined) throw new Error('usage: bench/profile-top.ts <file.cpuprofile> [rows]')
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfTime = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, index) => {
    const frame = nodes.get(id)?.callFrame
    const delta = profile.timeDeltas[index] ?? 0
    total += delta
    const where = frame === undefined ? '?' : `${frame.functionName === '' ? '(anonymous)' : frame.functionName} ${frame.url.replace(/^.*\/(node_modules|dist|lib|bench)\//, '$1/')}:${frame.lineNumber + 1}`
    selfTime.set(where, (selfTime.get(where) ?? 0) + delta)
  })
  const rows = [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, Number(rowsArg ?? 30))
  for (const [where, time] of rows) console.log(`${(time / total * 100).toFixed(1).padStart(5)} %  ${where}`)
}

main()
