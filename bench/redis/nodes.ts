import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { NodeReply, NodeSettings } from './node-ipc.js'

/** A node process started by the runner. */
export interface BenchNode {
  readonly port: number
  /** User + system CPU of the node so far, in µs. */
  cpu (): Promise<number>
  /** Ask the node to exit and wait for it. */
  stop (): Promise<void>
}

/** Which node script to run. */
export type NodeKind = 'plugin' | 'socketio'

const SCRIPTS: Record<NodeKind, string> = {
  plugin: fileURLToPath(new URL('./plugin-node.ts', import.meta.url)),
  socketio: fileURLToPath(new URL('./socketio-node.ts', import.meta.url))
}

const START_TIMEOUT = 60_000

/** Fork a node with extra Node `nodeFlags` (under tsx; the plugin node loads the compiled plugin itself) and wait for its port. */
export async function startNode (kind: NodeKind, settings: NodeSettings, nodeFlags: string[] = []): Promise<BenchNode> {
  const child: ChildProcess = fork(SCRIPTS[kind], [], {
    execArgv: ['--import', 'tsx', '--no-memory-reducer', ...nodeFlags],
    env: { ...process.env, BENCH_NODE: JSON.stringify(settings) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const exited = once(child, 'exit')
  const waiting = new Map<number, (cpu: number) => void>()
  let nextId = 0
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} node did not start within ${START_TIMEOUT} ms`)), START_TIMEOUT)
    child.once('exit', (code) => reject(new Error(`${kind} node exited at start (${code})`)))
    child.on('message', (reply: NodeReply) => {
      if ('port' in reply) {
        clearTimeout(timer)
        resolve(reply.port)
      } else {
        waiting.get(reply.id)?.(reply.cpu)
        waiting.delete(reply.id)
      }
    })
  })
  return {
    port,
    cpu: async () => await new Promise<number>((resolve) => {
      const id = ++nextId
      waiting.set(id, resolve)
      child.send({ id, command: 'cpu' })
    }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.send({ command: 'exit' })
      await exited
    }
  }
}

/** Total CPU of `nodes`, in µs. */
export async function nodesCpu (nodes: BenchNode[]): Promise<number> {
  const readings = await Promise.all(nodes.map(async (node) => await node.cpu()))
  return readings.reduce((sum, cpu) => sum + cpu, 0)
}
