import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { startRedisServer } from '../../test/helpers/redis-server.js'
import { RedisSessionStore } from '../../lib/store/redis-session-store.js'
import { formatCount, formatNumber, formatRatioSummary, machineInfo, markdownTable, writeResult } from '../lib/report.js'
import { median, ratio, summarizeRatios } from '../lib/stats.js'
import { echoPayload } from '../load/echo-load.js'
import { startBroadcast } from './broadcast-load.js'
import type { BroadcastSystem } from './broadcast-load.js'
import { startReliableEcho } from './echo-load.js'
import { nodesCpu, startNode } from './nodes.js'
import type { BenchNode } from './nodes.js'
import { parseRedisBenchOptions, REDIS_USAGE } from './options.js'
import type { RedisBenchOptions } from './options.js'
import { commandsPer, redisSnapshot } from './redis-stats.js'
import type { CommandsPer } from './redis-stats.js'
import { measureResume } from './resume-latency.js'

/**
 * `npm run bench:redis`: three plugin nodes on one real redis-server (started here on a free port
 * with a temp dir), against three Socket.IO nodes with @socket.io/redis-adapter on the same Redis.
 * Measures cross-node room broadcast throughput, reliable echo on the Redis store against the
 * memory store, Redis commands per message, and resume latency across nodes. See bench/README.md.
 */

/** One measured window. */
interface Window {
  /** Units (broadcasts, echoes) per second. */
  rate: number
  /** CPU of the measured nodes per unit, µs. */
  nodeCpu: number
  /** Redis commands and CPU per unit. */
  redis: CommandsPer
}

function progress (line: string): void {
  console.error(`[bench:redis] ${line}`)
}

async function measure (options: RedisBenchOptions, nodes: BenchNode[], redis: ReturnType<Awaited<ReturnType<typeof startRedisServer>>['client']>,
  count: () => number): Promise<Window> {
  await sleep(options.warmup)
  const [units0, cpu0, redis0, time0] = [count(), await nodesCpu(nodes), await redisSnapshot(redis), performance.now()]
  await sleep(options.duration)
  const [units1, cpu1, redis1, time1] = [count(), await nodesCpu(nodes), await redisSnapshot(redis), performance.now()]
  const units = units1 - units0
  if (units === 0) throw new Error('nothing was delivered in the measured window')
  return { rate: units / ((time1 - time0) / 1000), nodeCpu: (cpu1 - cpu0) / units, redis: commandsPer(redis0, redis1, units) }
}

async function main (): Promise<void> {
  const options = parseRedisBenchOptions(process.argv.slice(2))
  if (options === null) {
    console.log(REDIS_USAGE)
    return
  }
  progress('building dist/ (the plugin nodes run the compiled plugin)')
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  const machine = machineInfo(false)
  const server = await startRedisServer()
  const redis = server.client()
  const started: BenchNode[] = []
  try {
    progress(`redis-server on port ${server.port}; starting 3 plugin nodes, 3 Socket.IO nodes, 1 memory-store node`)
    const base = { redisPort: server.port }
    const pluginFlags = options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(options.outDir, 'profiles', 'redis')}`] : []
    const plugin = await Promise.all([0, 1, 2].map(async () => await startNode('plugin', { ...base, store: 'redis', keyPrefix: 'bench:', channel: 'bench:fanout' }, pluginFlags)))
    started.push(...plugin)
    const socketio = await Promise.all([0, 1, 2].map(async () => await startNode('socketio', { ...base, store: 'redis', keyPrefix: '', channel: 'bench-sio' })))
    started.push(...socketio)
    const memory = await startNode('plugin', { ...base, store: 'memory', keyPrefix: 'unused:', channel: 'bench:memory-fanout' }, pluginFlags)
    started.push(memory)
    const payload = echoPayload(options.payloadBytes)
    const members = 3 * options.membersPerNode

    const broadcast = async (system: BroadcastSystem, nodes: BenchNode[]): Promise<Window> => {
      const load = await startBroadcast({ system, ports: nodes.map((node) => node.port), membersPerNode: options.membersPerNode, window: options.window, payload })
      try {
        return await measure(options, nodes, redis, load.completed)
      } finally {
        load.stop()
        await sleep(300)
      }
    }
    const echo = async (node: BenchNode): Promise<Window> => {
      const load = await startReliableEcho(node.port, options.connections, options.inFlight, payload)
      try {
        return await measure(options, [node], redis, load.replies)
      } finally {
        load.stop()
        await sleep(300)
      }
    }

    const runs: Array<Record<string, Window>> = []
    for (let run = 1; run <= options.runs; run++) {
      const windows: Record<string, Window> = {}
      progress(`run ${run}/${options.runs}: plugin broadcast`)
      windows.pluginBroadcast = await broadcast('plugin', plugin)
      progress(`run ${run}/${options.runs}: Socket.IO broadcast`)
      windows.socketioBroadcast = await broadcast('socketio', socketio)
      progress(`run ${run}/${options.runs}: reliable echo, Redis store`)
      windows.echoRedis = await echo(plugin[run % 3])
      progress(`run ${run}/${options.runs}: reliable echo, memory store`)
      windows.echoMemory = await echo(memory)
      runs.push(windows)
    }
    progress(`resume latency: ${options.resumeSamples} resumes across the plugin nodes, ${options.replay} messages replayed each`)
    const probe = server.client()
    const store = new RedisSessionStore({ redis: probe, keyPrefix: 'bench:' })
    const resume = (await measureResume(plugin.map((node) => node.port), store, options.resumeSamples, options.replay)).sort((a, b) => a - b)
    await store.close()
    const percentile = (p: number): number => resume[Math.min(resume.length, Math.max(1, Math.ceil(p / 100 * resume.length))) - 1]

    const broadcastRatio = summarizeRatios(runs.map((r) => ratio(r.pluginBroadcast.rate, r.socketioBroadcast.rate) ?? NaN))
    const echoRatio = summarizeRatios(runs.map((r) => ratio(r.echoRedis.rate, r.echoMemory.rate) ?? NaN))
    const med = (pick: (windows: Record<string, Window>) => number): number | null => median(runs.map(pick))

    console.log(`## fastify-reliable-ws on Redis: three nodes${options.quick ? ' (--quick smoke run: not a measurement)' : ''}\n`)
    console.log(`Node ${machine.node}, ${machine.cores} × ${machine.cpu}, load average ${machine.loadAverage.join(' ')}, ` +
      `commit ${machine.commit?.slice(0, 10) ?? 'unknown'}${machine.workTreeDirty === true ? ' (dirty work tree)' : ''}, ` +
      `${options.runs} run(s), medians over runs. Nothing pinned: 7 node processes, redis-server and the load share the cores.\n`)
    console.log(`### Room broadcast across nodes (${members} members, ${options.membersPerNode} per node; publisher on node 0; ${options.window} outstanding; ${options.payloadBytes} B)\n`)
    console.log(markdownTable(
      ['system', 'broadcasts/s', 'deliveries/s', 'node CPU µs/delivery', 'Redis cmds/broadcast', 'Redis CPU µs/broadcast'],
      ([['plugin + RedisFanout', 'pluginBroadcast'], ['Socket.IO + redis-adapter', 'socketioBroadcast']] as const).map(([label, key]) => [
        label, formatCount(med((r) => r[key].rate)), formatCount(med((r) => r[key].rate * members)),
        formatNumber(med((r) => r[key].nodeCpu / members), 2), formatNumber(med((r) => r[key].redis.network), 2), formatNumber(med((r) => r[key].redis.cpu), 1)
      ])))
    console.log(`\nPlugin vs Socket.IO: **${formatRatioSummary(broadcastRatio)}** (target ≥ 1.5x).\n`)
    console.log(`### Reliable echo, one node (${options.connections} clients × ${options.inFlight} in flight, ${options.payloadBytes} B)\n`)
    console.log(markdownTable(
      ['store', 'echoes/s', 'node CPU µs/echo', 'Redis network cmds/echo', 'Redis cmds/echo (scripts included)', 'Redis CPU µs/echo'],
      ([['RedisSessionStore', 'echoRedis'], ['MemorySessionStore', 'echoMemory']] as const).map(([label, key]) => [
        label, formatCount(med((r) => r[key].rate)), formatNumber(med((r) => r[key].nodeCpu), 1),
        formatNumber(med((r) => r[key].redis.network), 3), formatNumber(med((r) => r[key].redis.all), 2), formatNumber(med((r) => r[key].redis.cpu), 1)
      ])))
    console.log(`\nRedis store vs memory store: **${formatRatioSummary(echoRatio)}** (target ≥ 0.5x).`)
    const byCommand = runs[runs.length - 1].echoRedis.redis.byCommand
    console.log(`Redis commands per echo, last run: ${Object.entries(byCommand).map(([name, calls]) => `${name} ${calls.toFixed(3)}`).join(', ')}.\n`)
    console.log(`### Resume on another node (${resume.length} resumes, ${options.replay} messages replayed each)\n`)
    console.log(markdownTable(['from reconnect to replay done', 'p50', 'p90', 'p99', 'max'],
      [['ms', formatNumber(percentile(50), 2), formatNumber(percentile(90), 2), formatNumber(percentile(99), 2), formatNumber(resume[resume.length - 1], 2)]]))
    const path = await writeResult(options.outDir, 'redis', {
      scenario: 'redis', quick: options.quick, options, machine, runs,
      summary: { broadcastRatio, echoRatio, resume: { samples: resume.length, p50: percentile(50), p90: percentile(90), p99: percentile(99), max: resume[resume.length - 1] } }
    })
    progress(`results written to ${path}`)
  } finally {
    await Promise.all(started.map(async (node) => await node.stop()))
    await server.stop()
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error)
  process.exitCode = 1
})
