import { spawn, execFile } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Cluster } from 'ioredis'
import { freePort } from './redis-server.js'

const run = promisify(execFile)

/** Three redis-server masters in cluster mode on free ports, started by a test. */
export interface RedisCluster {
  readonly ports: number[]
  /** A new ioredis Cluster client (closed by `stop()`). */
  client (): Cluster
  /** Quit the clients, stop the servers, remove their directories. */
  stop (): Promise<void>
}

// A cluster node also listens on its port + 10000 (the cluster bus): both must be free.
async function clusterPort (taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port < 55_000 && !taken.has(port) && !taken.has(port + 10_000)) {
      taken.add(port)
      taken.add(port + 10_000)
      return port
    }
  }
}

/** Start three masters and join them with `redis-cli --cluster create`; resolves once the cluster state is ok. */
export async function startRedisCluster (): Promise<RedisCluster> {
  const taken = new Set<number>()
  const ports = [await clusterPort(taken), await clusterPort(taken), await clusterPort(taken)]
  const dir = await mkdtemp(join(tmpdir(), 'frws-redis-cluster-'))
  const children: ChildProcess[] = []
  const clients: Cluster[] = []
  const stop = async (): Promise<void> => {
    for (const client of clients) client.disconnect()
    await Promise.all(children.map(async (child) => {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    }))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    for (const port of ports) {
      children.push(spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`
      ], { stdio: 'ignore' }))
    }
    for (const port of ports) await waitFor(async () => (await cli(port, 'ping')).trim() === 'PONG')
    await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'])
    for (const port of ports) await waitFor(async () => (await cli(port, 'cluster', 'info')).includes('cluster_state:ok'))
  } catch (error) {
    await stop()
    throw error
  }
  return {
    ports,
    client () {
      const client = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })), { redisOptions: { maxRetriesPerRequest: 1 } })
      client.on('error', () => {})
      clients.push(client)
      return client
    },
    stop
  }
}

async function cli (port: number, ...args: string[]): Promise<string> {
  try {
    return (await run('redis-cli', ['-p', String(port), ...args])).stdout
  } catch {
    return ''
  }
}

async function waitFor (check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('redis cluster did not come up')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
