/**
 * Server CPU per WebSocket handshake and RSS per idle connection, per echo target (issue 12):
 * the reliable route's upgrade plus hello/welcome against a plain upgrade.
 *
 *   npm run build && flock /tmp/frws-bench.lock node --import tsx bench/tools/session-cost.ts \
 *     [--targets fastify-websocket,plugin-plain,plugin-reliable] [--connections 2000] [--runs 1] [--cpu-prof] [--out dir]
 *
 * Per target and run: a fresh target server (bench/targets, compiled plugin, pinned like the
 * bench), 200 warm-up connections opened and closed, a full GC and a reading, then
 * `--connections` connections opened `CONCURRENCY` at a time and held (a reliable connection
 * counts once its welcome arrived), a full GC and a second reading. CPU per handshake and RSS per
 * idle connection are the differences divided by the connections. The client side is this
 * process, on the load core, speaking frames (bench/load/frames), so its own cost stays small.
 */
import { parseArgs } from 'node:util'
import type { Socket } from 'node:net'
import { ECHO_TARGETS } from '../lib/catalog.js'
import { startTarget } from '../lib/session.js'
import { parseBenchOptions } from '../lib/options.js'
import type { TargetStats } from '../lib/target-protocol.js'
import { ECHO_PATH } from '../lib/target-protocol.js'
import { openUpgradedSocket } from '../load/frames/upgrade.js'
import { encodeClientFrame, Opcode } from '../load/frames/frame-codec.js'
import { encodeHello } from '../../lib/protocol/handshake.js'
import { PROTOCOL_VERSION } from '../../lib/protocol/version.js'

const CONCURRENCY = 20
const WARMUP = 200
const CHAR_W = 0x57

/** Open one connection; on a reliable target also say hello and wait for the welcome. */
async function connect (port: number, reliable: boolean): Promise<Socket> {
  const { socket, head } = await openUpgradedSocket(port, ECHO_PATH)
  socket.on('error', () => {})
  if (!reliable) return socket
  await new Promise<void>((resolve, reject) => {
    let seen = head
    const check = (): void => {
      // The welcome is the server's first frame: an unmasked text frame whose payload starts with 'W'.
      const offset = seen.length > 1 ? ((seen[1] & 0x7f) === 126 ? 4 : 2) : 0
      if (offset > 0 && seen.length > offset) {
        socket.removeListener('data', onData)
        if (seen[offset] === CHAR_W) resolve()
        else reject(new Error('first frame was not a welcome'))
      }
    }
    const onData = (chunk: Buffer): void => { seen = Buffer.concat([seen, chunk]); check() }
    socket.on('data', onData)
    socket.once('close', () => reject(new Error('closed before the welcome')))
    socket.write(encodeClientFrame(Opcode.TEXT, Buffer.from(encodeHello({ version: PROTOCOL_VERSION }))))
    check()
  })
  return socket
}

async function openMany (port: number, reliable: boolean, count: number): Promise<Socket[]> {
  const sockets: Socket[] = []
  let next = 0
  async function lane (): Promise<void> {
    while (next < count) {
      next++
      sockets.push(await connect(port, reliable))
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, lane))
  return sockets
}

function closeAll (sockets: Socket[]): void {
  for (const socket of sockets) socket.destroy()
}

async function measure (name: string, connections: number, cpuProf: boolean, outDir: string | undefined): Promise<{ cpu: number, rss: number, heap: number }> {
  const target = ECHO_TARGETS.find((candidate) => candidate.name === name)
  if (target === undefined) throw new Error(`unknown target ${name}`)
  const args = [...(cpuProf ? ['--cpu-prof'] : []), ...(outDir === undefined ? [] : ['--out', outDir])]
  const options = parseBenchOptions(args)
  if (options === null) throw new Error('unreachable: no --help given')
  const config = { heartbeat: 'default' as const, pingInterval: 25_000, pongTimeout: 10_000, maxConnections: connections + WARMUP + 10 }
  const started = await startTarget(target.script, config, options, `session-cost-${name}`)
  try {
    // The reliable route, whichever driver the echo bench uses for it (frames or ReliableClient).
    const reliable = target.driver === 'reliable' || target.driver === 'reliable-client'
    closeAll(await openMany(started.port, reliable, WARMUP))
    await new Promise((resolve) => setTimeout(resolve, 500))
    const before: TargetStats = await started.stats(true)
    const cpuBefore = (await started.stats(false)).cpu
    const sockets = await openMany(started.port, reliable, connections)
    const cpuAfter = (await started.stats(false)).cpu
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const after = await started.stats(true)
    if (after.connections < connections) throw new Error(`${name}: ${after.connections} of ${connections} connections held`)
    closeAll(sockets)
    return {
      cpu: (cpuAfter - cpuBefore) / connections,
      rss: (after.rss - before.rss) / connections / 1024,
      heap: (after.heapUsed - before.heapUsed) / connections / 1024
    }
  } finally {
    await started.stop()
  }
}

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: 'fastify-websocket,plugin-plain,plugin-reliable' },
    connections: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '1' },
    'cpu-prof': { type: 'boolean', default: false },
    out: { type: 'string' }
  }
})
const names = values.targets.split(',')
const connections = Number(values.connections)
console.log(`| run | target | server CPU µs per handshake | RSS KiB per idle connection | heap KiB per idle connection |`)
console.log('|---|---|---:|---:|---:|')
for (let run = 1; run <= Number(values.runs); run++) {
  for (const name of names) {
    const result = await measure(name, connections, values['cpu-prof'], values.out)
    console.log(`| ${run} | ${name} | ${result.cpu.toFixed(0)} | ${result.rss.toFixed(2)} | ${result.heap.toFixed(2)} |`)
  }
}
process.exit(0)
