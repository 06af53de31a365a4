import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { TARGETS_DIR } from './catalog.js'
import type { BenchOptions } from './options.js'
import type { BenchProcess } from './processes.js'
import { startBenchProcess } from './processes.js'
import type { StatsRequest, TargetConfig, TargetStarted, TargetStats } from './target-protocol.js'

/** Core of the target servers and core of the load generator, when pinning. */
const SERVER_CORE = 0
const LOAD_CORE = 1
const LOAD_SCRIPT = fileURLToPath(new URL('../load/main.ts', import.meta.url))

/** A target server that is listening. */
export interface StartedTarget {
  port: number
  stats (gc?: boolean): Promise<TargetStats>
  stop (): Promise<void>
}

let profileCounter = 0

// One directory per process: a fixed --cpu-prof-name would let tsx's loader thread overwrite the
// main thread's profile (both threads write one file each).
function profileFlags (options: BenchOptions, name: string): string[] {
  return ['--cpu-prof', `--cpu-prof-dir=${join(options.outDir, 'profiles', `${name}-${++profileCounter}`)}`]
}

/**
 * Start a target script on the server core with `config`, with `--expose-gc` (memory readings
 * after a full GC) and `--no-memory-reducer`. With `--cpu-prof` its V8 profile is written when it
 * exits, in a folder named after `profileName` and the run.
 */
export async function startTarget (
  script: string, config: TargetConfig, options: BenchOptions, profileName: string
): Promise<StartedTarget> {
  // V8's memory reducer runs GCs at random moments after the connection burst, in the main isolate
  // and in tsx's loader thread: 15-60 ms of CPU that would land in some idle windows and not others.
  const nodeFlags = ['--expose-gc', '--no-memory-reducer', ...options.targetFlags]
  if (options.cpuProf) nodeFlags.push(...profileFlags(options, profileName))
  const server = await startBenchProcess(TARGETS_DIR + script, { core: options.pin ? SERVER_CORE : null, nodeFlags })
  try {
    const { port } = await server.rpc.request<TargetStarted>('start', config)
    return {
      port,
      stats: (gc = false) => server.rpc.request<TargetStats>('stats', { gc } satisfies StatsRequest),
      stop: () => server.stop()
    }
  } catch (error) {
    await server.stop()
    throw error
  }
}

/**
 * Start the load generator on the load core. With `--cpu-prof` its V8 profile goes beside the
 * target's, in a folder named `<profileName>-load-<n>`.
 */
export function startLoad (options: BenchOptions, profileName = 'load'): Promise<BenchProcess> {
  const nodeFlags = options.cpuProf ? profileFlags(options, `${profileName}-load`) : []
  return startBenchProcess(LOAD_SCRIPT, { core: options.pin ? LOAD_CORE : null, nodeFlags })
}

/** Resolve after `ms`. */
export function delay (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** The message of an error, for the report. */
export function errorMessage (error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] : String(error)
}
