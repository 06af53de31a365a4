import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** Memory of the child process after a full garbage collection, in bytes. */
export interface ChildMemory {
  rss: number
  heapUsed: number
  /** `heapUsed` without the code spaces (compiled code varies with JIT timing, not with data held). */
  dataHeapUsed: number
  external: number
  arrayBuffers: number
}

/** A Fastify app with the plugin, running in its own process so that its memory can be measured. */
export interface ChildServer {
  /** `ws://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** `process.memoryUsage()` in the child after `gc()` (the child runs with `--expose-gc`). */
  memory (): Promise<ChildMemory>
  /** Whatever the fixture's `stats(app)` export returns (JSON). */
  stats (): Promise<Record<string, unknown>>
  /** `app.close()` in the child, then wait for it to exit; resolves with how long the close took, in ms. */
  close (): Promise<number>
  /** Kill the child at once (SIGKILL). */
  kill (): void
  /** Send the child a signal (e.g. SIGSTOP and SIGCONT to make a zombie node). */
  signal (signal: NodeJS.Signals): void
  /** Resolves with the exit code (or signal) once the child has exited. */
  readonly exited: Promise<number | string>
}

/** How to start a child server. */
export interface ChildServerOptions {
  /** A module (file URL or path) whose default export `(app, options) => void | Promise<void>` registers the plugin and routes. */
  fixture: string | URL
  /** JSON-serialisable settings handed to the fixture (plugin options, route choices). */
  options?: Record<string, unknown>
  /** `--max-old-space-size` of the child, in MiB. @default Node's default */
  heapMiB?: number
}

const ENTRY = fileURLToPath(new URL('./child-server-entry.ts', import.meta.url))

interface Reply { id: number, result?: unknown, error?: string }

/** Start a fixture app in a child process on 127.0.0.1 and a free port. */
export async function startChildServer (options: ChildServerOptions): Promise<ChildServer> {
  const fixture = options.fixture instanceof URL ? fileURLToPath(options.fixture) : options.fixture
  const execArgv = ['--expose-gc', '--import', 'tsx']
  if (options.heapMiB !== undefined) execArgv.push(`--max-old-space-size=${options.heapMiB}`)
  const child: ChildProcess = fork(ENTRY, [], {
    execArgv,
    env: { ...process.env, NODE_V8_COVERAGE: '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))
  })
  let nextId = 0
  const waiting = new Map<number, { resolve: (value: unknown) => void, reject: (error: Error) => void }>()
  child.on('message', (reply: Reply) => {
    const entry = waiting.get(reply.id)
    if (entry === undefined) return
    waiting.delete(reply.id)
    if (reply.error !== undefined) entry.reject(new Error(reply.error))
    else entry.resolve(reply.result)
  })
  void exited.then((code) => {
    for (const entry of waiting.values()) entry.reject(new Error(`child server exited (${code})`))
    waiting.clear()
  })
  const call = <T>(command: string, args?: unknown): Promise<T> => new Promise<T>((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      reject(new Error('child server has exited'))
      return
    }
    const id = ++nextId
    waiting.set(id, { resolve: resolve as (value: unknown) => void, reject })
    child.send({ id, command, args })
  })
  const port = await call<number>('start', { fixture, options: options.options ?? {} })
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    memory: () => call<ChildMemory>('memory'),
    stats: () => call<Record<string, unknown>>('stats'),
    close: async () => {
      const took = await call<number>('close')
      await exited
      return took
    },
    kill: () => { child.kill('SIGKILL') },
    signal: (signal) => { child.kill(signal) },
    exited
  }
}
