/**
 * The IPC of a benchmark node (bench/redis/): the node announces its port with `{ port }` once
 * listening, answers `{ id, command: 'cpu' }` with `{ id, cpu }` (user + system µs of the process)
 * and exits on `{ command: 'exit' }` or when the runner goes away.
 */

/** A request of the runner. */
export interface NodeRequest { id?: number, command: 'cpu' | 'exit' }

/** What a node answers: its port once, then CPU readings. */
export type NodeReply = { port: number } | { id: number, cpu: number }

/** Serve the runner's requests and announce `port`. */
export function announceNode (port: number): void {
  const send = (reply: NodeReply): void => { process.send?.(reply) }
  process.on('message', (request: NodeRequest) => {
    if (request.command === 'exit') process.exit(0)
    const usage = process.cpuUsage()
    send({ id: request.id ?? 0, cpu: usage.user + usage.system })
  })
  process.on('disconnect', () => process.exit(0))
  send({ port })
}

/** Settings of a node, passed as JSON in the environment variable `BENCH_NODE`. */
export interface NodeSettings {
  redisPort: number
  /** Plugin nodes: where reliable sessions live. */
  store: 'redis' | 'memory'
  keyPrefix: string
  /** Pub/sub channel (plugin) or key prefix (Socket.IO adapter). */
  channel: string
}

/** The settings the runner gave this node. */
export function nodeSettings (): NodeSettings {
  const raw = process.env.BENCH_NODE
  if (raw === undefined) throw new Error('BENCH_NODE is not set: this script is started by bench/redis/run.ts')
  return JSON.parse(raw) as NodeSettings
}
