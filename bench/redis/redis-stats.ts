import type { Redis } from 'ioredis'

/** Counters of a redis-server at one instant. */
export interface RedisSnapshot {
  /** Calls per command (`INFO commandstats`), including those made from Lua scripts. */
  calls: Map<string, number>
  /** used_cpu_user + used_cpu_sys of the server, in µs. */
  cpu: number
}

/** Commands a client sends over the network; the others in a delta were run by scripts. */
const NETWORK_COMMANDS = new Set(['evalsha', 'eval', 'publish', 'spublish', 'script', 'subscribe', 'ping', 'hello', 'client', 'info'])

/** Read the command counters and CPU of the server. */
export async function redisSnapshot (redis: Redis): Promise<RedisSnapshot> {
  const [commandstats, cpu] = await Promise.all([redis.info('commandstats'), redis.info('cpu')])
  const calls = new Map<string, number>()
  for (const match of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1], Number(match[2]))
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0)
  return { calls, cpu: Math.round((field('used_cpu_user') + field('used_cpu_sys')) * 1e6) }
}

/** Commands between two snapshots, per unit of work (message, broadcast). */
export interface CommandsPer {
  /** Commands sent over the network (EVALSHA, PUBLISH, ...) per unit, the snapshot's own INFO excluded. */
  network: number
  /** Every command counted by Redis, those run inside scripts included, per unit. */
  all: number
  /** Per command name, per unit (INFO excluded). */
  byCommand: Record<string, number>
  /** Redis server CPU per unit, in µs. */
  cpu: number
}

/** Commands run between `before` and `after`, divided by `units`. */
export function commandsPer (before: RedisSnapshot, after: RedisSnapshot, units: number): CommandsPer {
  const byCommand: Record<string, number> = {}
  let network = 0
  let all = 0
  for (const [name, calls] of after.calls) {
    if (name === 'info') continue
    const delta = calls - (before.calls.get(name) ?? 0)
    if (delta === 0) continue
    byCommand[name] = delta / units
    all += delta
    if (NETWORK_COMMANDS.has(name)) network += delta
  }
  return { network: network / units, all: all / units, byCommand, cpu: (after.cpu - before.cpu) / units }
}
