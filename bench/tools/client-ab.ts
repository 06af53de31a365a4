import { fileURLToPath, pathToFileURL } from 'node:url'
import { join, resolve } from 'node:path'
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import WebSocket from 'ws'
import { ECHO_PATH } from '../lib/target-protocol.js'
import type { BenchOptions } from '../lib/options.js'
import { startTarget, type StartedTarget } from '../lib/session.js'
import { echoPayload } from '../load/echo-load.js'

/**
 * `node --import tsx bench/tools/client-ab.ts --a <dist> --b <dist> [--socket-a ws|batching]
 * [--socket-b ws|batching] [--payload 64] [--rounds 6] [--window 1500]`: compares two builds of
 * the reliable route and its `ReliableClient` (each a dist/ folder: `npm run build`, then copy
 * it) by alternating short windows A, B, A, B... so that the drift of a busy machine spreads over
 * both. Each variant has its own server (bench/targets/plugin-reliable.ts on that build); this
 * process is the load, with the variant's compiled client over `ws`'s `WebSocket` or the
 * `BatchingWebSocket` of that build. Prints per window and the medians: msg/s, server CPU µs per
 * message, client CPU µs per round trip. Nothing is pinned: on a busy machine compare the CPU
 * figures, not the rates.
 */
type ClientModule = typeof import('../../lib/client/index.js')
type NodeClientModule = typeof import('../../lib/node-client/index.js')

interface Variant {
  name: string
  dist: string
  socket: 'ws' | 'batching'
}

interface WindowResult {
  rate: number
  serverMicros: number
  clientMicros: number
}

const { values } = parseArgs({
  options: {
    a: { type: 'string', default: 'dist' },
    b: { type: 'string', default: 'dist' },
    'socket-a': { type: 'string', default: 'batching' },
    'socket-b': { type: 'string', default: 'batching' },
    payload: { type: 'string', default: '64' },
    connections: { type: 'string', default: '50' },
    'in-flight': { type: 'string', default: '32' },
    rounds: { type: 'string', default: '6' },
    window: { type: 'string', default: '1500' },
    warmup: { type: 'string', default: '500' }
  }
})

function socketKind (value: string | undefined): 'ws' | 'batching' {
  if (value !== 'ws' && value !== 'batching') throw new Error(`--socket-a/--socket-b: ws or batching, not ${String(value)}`)
  return value
}

const variants: Variant[] = [
  { name: 'A', dist: values.a, socket: socketKind(values['socket-a']) },
  { name: 'B', dist: values.b, socket: socketKind(values['socket-b']) }
]
const payload = echoPayload(Number(values.payload))
const connections = Number(values.connections)
const inFlight = Number(values['in-flight'])

function cpuNow (): number {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}

function median (list: number[]): number {
  const sorted = [...list].sort((x, y) => x - y)
  return sorted[Math.floor(sorted.length / 2)]
}

const delay = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

const benchOptions = { targetFlags: [], cpuProf: false, pin: false, outDir: fileURLToPath(new URL('../results', import.meta.url)) } as unknown as BenchOptions
const targetConfig = { heartbeat: 'default', pingInterval: 25_000, pongTimeout: 10_000, maxConnections: 10_000 } as const

async function loadVariant (variant: Variant): Promise<{ client: ClientModule, socketClass: unknown, server: StartedTarget }> {
  const dist = resolve(variant.dist)
  const client = await import(pathToFileURL(join(dist, 'client', 'index.js')).href) as ClientModule
  let socketClass: unknown = WebSocket
  if (variant.socket === 'batching') {
    const nodeEntry = join(dist, 'node-client', 'index.js')
    if (!existsSync(nodeEntry)) throw new Error(`${nodeEntry} is missing: that build has no BatchingWebSocket`)
    socketClass = (await import(pathToFileURL(nodeEntry).href) as NodeClientModule).BatchingWebSocket
  }
  process.env.FRWS_BENCH_DIST = dist
  const server = await startTarget('plugin-reliable.ts', targetConfig, benchOptions, `ab-${variant.name}`)
  return { client, socketClass, server }
}

async function measure (variant: Awaited<ReturnType<typeof loadVariant>>): Promise<WindowResult> {
  const { ReliableClient } = variant.client
  let replies = 0
  const clients = await Promise.all(Array.from({ length: connections }, async () => {
    const client = new ReliableClient(`ws://127.0.0.1:${variant.server.port}${ECHO_PATH}`, {
      WebSocket: variant.socketClass as never, maxAttempts: 0
    })
    await new Promise<void>((resolve, reject) => {
      client.once('open', () => resolve())
      client.once('end', (info) => reject(info.error ?? new Error(`ended ${info.code}`)))
    })
    client.on('error', () => {})
    return client
  }))
  let running = true
  for (const client of clients) {
    client.on('message', () => {
      replies++
      if (running) void client.send(payload)
    })
    for (let i = 0; i < inFlight; i++) void client.send(payload)
  }
  await delay(Number(values.warmup))
  const server0 = await variant.server.stats()
  const client0 = cpuNow()
  const replies0 = replies
  const time0 = performance.now()
  await delay(Number(values.window))
  const server1 = await variant.server.stats()
  const client1 = cpuNow()
  const count = replies - replies0
  const seconds = (performance.now() - time0) / 1000
  running = false
  await Promise.all(clients.map(async (client) => { await client.close() }))
  return { rate: count / seconds, serverMicros: (server1.cpu - server0.cpu) / count, clientMicros: (client1 - client0) / count }
}

const loaded = [await loadVariant(variants[0]), await loadVariant(variants[1])]
const results: WindowResult[][] = [[], []]
console.log(`payload ${payload.length} B, ${connections} connections x ${inFlight} in flight; A: ${variants[0].dist} (${variants[0].socket}), B: ${variants[1].dist} (${variants[1].socket})`)
for (let round = 0; round < Number(values.rounds); round++) {
  for (const index of round % 2 === 0 ? [0, 1] : [1, 0]) {
    const result = await measure(loaded[index])
    results[index].push(result)
    console.log(`round ${round + 1} ${variants[index].name}: ${Math.round(result.rate)} msg/s, server ${result.serverMicros.toFixed(2)} µs/msg, client ${result.clientMicros.toFixed(2)} µs/round trip`)
  }
}
for (const [index, list] of results.entries()) {
  console.log(`median ${variants[index].name}: ${Math.round(median(list.map((r) => r.rate)))} msg/s, server ${median(list.map((r) => r.serverMicros)).toFixed(2)} µs/msg, client ${median(list.map((r) => r.clientMicros)).toFixed(2)} µs/round trip`)
}
await Promise.all(loaded.map(async (variant) => { await variant.server.stop() }))
process.exit(0)
