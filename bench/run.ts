import { execFileSync } from 'node:child_process'
import { HEARTBEAT_VARIANTS, ECHO_TARGETS } from './lib/catalog.js'
import type { BenchOptions, ScenarioName } from './lib/options.js'
import { parseBenchOptions, USAGE } from './lib/options.js'
import { canPin } from './lib/processes.js'
import { machineInfo, writeResult } from './lib/report.js'
import { runHeartbeat } from './scenarios/heartbeat.js'
import { runLatency } from './scenarios/latency.js'
import type { ScenarioReport } from './scenarios/scenario.js'
import { runThroughput } from './scenarios/throughput.js'

/**
 * `npm run bench -- [options]`: runs the selected scenarios, prints markdown tables on stdout
 * (progress goes to stderr) and writes one JSON result file per scenario. See bench/README.md.
 */
const RUNNERS: Record<ScenarioName, (options: BenchOptions, progress: (line: string) => void) => Promise<ScenarioReport>> = {
  throughput: runThroughput,
  latency: runLatency,
  heartbeat: runHeartbeat
}

function progress (line: string): void {
  console.error(`[bench] ${line}`)
}

async function main (): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2))
  if (options === null) {
    console.log(USAGE)
    return
  }
  const known = new Set([...ECHO_TARGETS.map((target) => target.name), ...HEARTBEAT_VARIANTS.map((variant) => variant.name)])
  const unknown = options.only?.filter((name) => !known.has(name)) ?? []
  if (unknown.length > 0) throw new Error(`unknown target(s) in --only: ${unknown.join(', ')} (known: ${[...known].join(', ')})`)
  if (options.pin && !canPin()) {
    progress('taskset is missing or fewer than 2 cores: processes are not pinned')
    options.pin = false
  }

  progress('building dist/ (the targets run the compiled plugin)')
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  const machine = machineInfo(options.pin)
  console.log(`## fastify-reliable-ws benchmarks${options.quick ? ' (--quick smoke run: not a measurement)' : ''}\n`)
  console.log(`Node ${machine.node}, ${machine.cores} × ${machine.cpu}, load average ${machine.loadAverage.join(' ')}, ` +
    `${machine.pinned ? 'servers on core 0, load on core 1' : 'not pinned'}, commit ${machine.commit?.slice(0, 10) ?? 'unknown'}` +
    `${machine.workTreeDirty === true ? ' (dirty work tree)' : ''}. Compare ratios, not absolute figures.\n`)

  for (const scenario of options.scenarios) {
    const started = new Date()
    const report = await RUNNERS[scenario](options, progress)
    console.log(report.markdown)
    const path = await writeResult(options.outDir, scenario, {
      scenario,
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      quick: options.quick,
      runs: options.runs,
      machine,
      ...report.json
    })
    progress(`${scenario}: results written to ${path}`)
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
})
