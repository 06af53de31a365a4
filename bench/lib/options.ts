import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

/** The scenarios, in the order they run. */
export const SCENARIOS = ['throughput', 'latency', 'heartbeat'] as const
/** A scenario name. */
export type ScenarioName = typeof SCENARIOS[number]

/** Scenario A: closed-loop echo throughput. */
export interface ThroughputOptions {
  connections: number
  inFlight: number
  /** Payload sizes in bytes; each is measured separately. */
  payloads: number[]
  /** Time before the measurement window, in ms. */
  warmup: number
  /** Measurement window, in ms. */
  duration: number
}

/** Scenario B: round trips with one message in flight. */
export interface LatencyOptions {
  connections: number
  payloadBytes: number
  warmup: number
  duration: number
}

/** Scenario C: idle connections and heartbeats. */
export interface HeartbeatBenchOptions {
  connections: number
  /** Handshakes in progress at once while opening. */
  concurrency: number
  pingInterval: number
  pongTimeout: number
  /** Time between the last connection and the memory reading, in ms. */
  settle: number
  /** CPU measurement window with idle connections, in ms: a whole number of ping intervals. */
  window: number
  /** Window in which every connection carries traffic and pings are counted, in ms. */
  trafficWindow: number
}

/** Everything `npm run bench` can be told. */
export interface BenchOptions {
  scenarios: ScenarioName[]
  quick: boolean
  /** Runs per scenario; the report gives medians. */
  runs: number
  /** Names of targets or heartbeat variants to run, or null for all. */
  only: string[] | null
  /** Pin servers to core 0 and load to core 1. */
  pin: boolean
  /** Write a V8 CPU profile of every target server into `<outDir>/profiles`. */
  cpuProf: boolean
  /** Extra Node flags for the target servers (e.g. `--trace-gc`). */
  targetFlags: string[]
  outDir: string
  throughput: ThroughputOptions
  latency: LatencyOptions
  heartbeat: HeartbeatBenchOptions
}

/** Usage text of `npm run bench -- --help`. */
export const USAGE = `Usage: npm run bench -- [options]

  --scenario <list>        throughput,latency,heartbeat (default: all)
  --quick                  smoke run: 1 run, short windows, 2,000 idle connections
  --runs <n>               runs per scenario, medians reported (default 3)
  --only <list>            target or heartbeat-variant names to run (baselines are added)
  --no-pin                 do not pin processes to cores with taskset
  --cpu-prof               write a CPU profile of each target server (bench/results/profiles)
  --target-flags=<flags>   extra Node flags for the target servers, e.g. --target-flags=--trace-gc
  --out <dir>              where result JSON goes (default bench/results)
  --connections <n>        throughput: connections (default 50)
  --in-flight <n>          throughput: messages in flight per connection (default 32)
  --payloads <list>        throughput: payload sizes in bytes (default 64,4096)
  --warmup <ms>            throughput and latency: warm-up (default 1000)
  --duration <ms>          throughput and latency: measured window (default 5000)
  --idle-connections <n>   heartbeat: idle connections (default 10000)
  --ping-interval <ms>     heartbeat: ping interval (default 1000)
  --pong-timeout <ms>      heartbeat: pong timeout (default 1000)
  --window <ms>            heartbeat: idle CPU window, whole ping intervals (default 10000)
  --help`

function integer (name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < min) throw new Error(`--${name} must be an integer >= ${min}, got "${value}"`)
  return parsed
}

function list (value: string | undefined): string[] | null {
  if (value === undefined) return null
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '')
}

/** Parse the command line; throws with a message naming the bad option. Returns null for `--help`. */
export function parseBenchOptions (argv: string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scenario: { type: 'string' },
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      only: { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'target-flags': { type: 'string' },
      out: { type: 'string' },
      connections: { type: 'string' },
      'in-flight': { type: 'string' },
      payloads: { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      'idle-connections': { type: 'string' },
      'ping-interval': { type: 'string' },
      'pong-timeout': { type: 'string' },
      window: { type: 'string' },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help === true) return null

  const scenarios = list(values.scenario) ?? [...SCENARIOS]
  for (const scenario of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(scenario)) throw new Error(`unknown scenario "${scenario}" (known: ${SCENARIOS.join(', ')})`)
  }
  const quick = values.quick === true
  const warmup = integer('warmup', values.warmup, quick ? 300 : 1000, 0)
  const duration = integer('duration', values.duration, quick ? 1500 : 5000)
  const payloads = (list(values.payloads) ?? ['64', '4096']).map((size) => integer('payloads', size, 64))
  const pingInterval = integer('ping-interval', values['ping-interval'], 1000, 10)
  // A window of whole ping intervals holds the same number of classic rounds wherever it starts.
  const window = Math.max(1, Math.round(integer('window', values.window, quick ? 3000 : 10_000) / pingInterval)) * pingInterval

  return {
    scenarios: SCENARIOS.filter((name) => scenarios.includes(name)),
    quick,
    runs: integer('runs', values.runs, quick ? 1 : 3),
    only: list(values.only),
    pin: values['no-pin'] !== true,
    cpuProf: values['cpu-prof'] === true,
    targetFlags: (values['target-flags'] ?? '').split(' ').filter((flag) => flag !== ''),
    outDir: values.out ?? fileURLToPath(new URL('../results/', import.meta.url)),
    throughput: {
      connections: integer('connections', values.connections, 50),
      inFlight: integer('in-flight', values['in-flight'], 32),
      payloads,
      warmup,
      duration
    },
    latency: { connections: 1, payloadBytes: 64, warmup, duration },
    heartbeat: {
      connections: integer('idle-connections', values['idle-connections'], quick ? 2000 : 10_000),
      concurrency: 100,
      pingInterval,
      pongTimeout: integer('pong-timeout', values['pong-timeout'], 1000, 10),
      settle: quick ? 1000 : 2000,
      window,
      trafficWindow: quick ? 2000 : 5000
    }
  }
}
