import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { cpus } from 'node:os'
import { RpcChannel } from './ipc.js'

/** A benchmark child process (target server or load generator) and its RPC channel. */
export interface BenchProcess {
  readonly child: ChildProcess
  readonly rpc: RpcChannel
  /** Ask the process to exit, then kill it if it has not within `timeout` ms. */
  stop (timeout?: number): Promise<void>
}

/** Where a child process runs and with which Node flags. */
export interface SpawnOptions {
  /** CPU core to pin the process to, or null for no pinning. */
  core: number | null
  /** Node flags before the script (`--import tsx` is always added). */
  nodeFlags?: string[]
}

const live = new Set<ChildProcess>()
let cleanupInstalled = false

function killAll (): void {
  for (const child of live) child.kill('SIGKILL')
  live.clear()
}

function installCleanup (): void {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll()
      process.exit(130)
    })
  }
}

/**
 * Whether the children can be pinned to cores 0 and 1 with `taskset`: it must exist, work here,
 * and the machine must have at least two cores.
 */
export function canPin (): boolean {
  if (cpus().length < 2) return false
  const probe = spawnSync('taskset', ['-c', '1', 'true'], { stdio: 'ignore' })
  return probe.status === 0
}

/** How long a child may take to load its script (tsx compiles it) and announce itself, in ms. */
const READY_TIMEOUT = 60_000

/**
 * Start `node --import tsx <script>` with an IPC channel, pinned to `options.core` through
 * `taskset` (which execs node, so every thread of the child inherits the affinity), and wait
 * until it announces that its handlers are in place. The child's output goes to our stderr so
 * that stdout carries only the report. Children are killed when this process exits.
 */
export async function startBenchProcess (script: string, options: SpawnOptions): Promise<BenchProcess> {
  installCleanup()
  const nodeArgs = ['--import', 'tsx', ...(options.nodeFlags ?? []), script]
  const [command, args] = options.core === null
    ? [process.execPath, nodeArgs]
    : ['taskset', ['-c', String(options.core), process.execPath, ...nodeArgs]]
  const child = spawn(command, args, { stdio: ['ignore', 2, 2, 'ipc'] })
  live.add(child)
  // A spawn failure emits 'error' instead of 'exit'; either way the child is gone.
  const forget = (): void => { live.delete(child) }
  const exited = once(child, 'exit').then(forget, forget)
  const rpc = new RpcChannel(child)

  let timer: NodeJS.Timeout | undefined
  const failure = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${script} did not start within ${READY_TIMEOUT} ms`)), READY_TIMEOUT)
    void exited.then(() => reject(new Error(`${script} exited before it was ready (code ${child.exitCode})`)))
  })
  // Once ready, a later exit must not surface as an unhandled rejection.
  failure.catch(() => {})
  try {
    await Promise.race([rpc.ready, failure])
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  } finally {
    clearTimeout(timer)
  }

  return {
    child,
    rpc,
    async stop (timeout = 10_000): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return
      rpc.request('exit', null, timeout).catch(() => {})
      const killTimer = setTimeout(() => child.kill('SIGKILL'), timeout)
      await exited
      clearTimeout(killTimer)
    }
  }
}
