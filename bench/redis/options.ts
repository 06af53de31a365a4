import { parseArgs } from 'node:util'

/** Settings of `npm run bench:redis` (bench/README.md, "Scale-out on Redis"). */
export interface RedisBenchOptions {
  quick: boolean
  runs: number
  /** Broadcast members on each of the three nodes. */
  membersPerNode: number
  /** Broadcasts outstanding (sent, not yet received by every member). */
  window: number
  /** Reliable echo clients and messages in flight on each. */
  connections: number
  inFlight: number
  payloadBytes: number
  /** ms before and during each measured window. */
  warmup: number
  duration: number
  resumeSamples: number
  /** Messages replayed on each resume. */
  replay: number
  outDir: string
  /** Write a V8 CPU profile of every plugin node to `<outDir>/profiles/redis/`. */
  cpuProf: boolean
}

/** Usage text of `npm run bench:redis -- --help`. */
export const REDIS_USAGE = `npm run bench:redis -- [options]

  --quick                 smoke run: 1 run, short windows, 30 resume samples
  --runs <n>              runs (each measures every system once)       default 3
  --members-per-node <n>  room members on each of the 3 nodes          default 50
  --window <n>            broadcasts outstanding                       default 16
  --connections <n>       reliable echo clients                        default 50
  --in-flight <n>         echo messages in flight per client           default 32
  --payload-bytes <n>     size of every message                        default 64
  --warmup <ms>           before each measured window                  default 1000
  --duration <ms>         measured window                              default 5000
  --resume-samples <n>    resumes timed                                default 200
  --replay <n>            messages replayed per resume                 default 10
  --out-dir <dir>         where the JSON result goes                   default bench/results
  --cpu-prof              V8 CPU profile of every plugin node in <out-dir>/profiles/redis`

/** Parse the command line; null for --help. */
export function parseRedisBenchOptions (argv: string[]): RedisBenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean' },
      quick: { type: 'boolean' },
      runs: { type: 'string' },
      'members-per-node': { type: 'string' },
      window: { type: 'string' },
      connections: { type: 'string' },
      'in-flight': { type: 'string' },
      'payload-bytes': { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      'resume-samples': { type: 'string' },
      replay: { type: 'string' },
      'out-dir': { type: 'string' },
      'cpu-prof': { type: 'boolean' }
    }
  })
  if (values.help === true) return null
  const quick = values.quick === true
  const int = (name: keyof typeof values, fallback: number): number => {
    const raw = values[name]
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${String(raw)}`)
    return value
  }
  return {
    quick,
    runs: int('runs', quick ? 1 : 3),
    membersPerNode: int('members-per-node', 50),
    window: int('window', 16),
    connections: int('connections', 50),
    inFlight: int('in-flight', 32),
    payloadBytes: int('payload-bytes', 64),
    warmup: int('warmup', quick ? 500 : 1000),
    duration: int('duration', quick ? 2000 : 5000),
    resumeSamples: int('resume-samples', quick ? 30 : 200),
    replay: int('replay', 10),
    outDir: values['out-dir'] ?? 'bench/results',
    cpuProf: values['cpu-prof'] === true
  }
}
