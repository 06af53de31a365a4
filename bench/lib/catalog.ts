import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { DRIVERS } from '../load/drivers/index.js'
import type { HeartbeatMode } from './target-protocol.js'

/** Directory of the target scripts. */
export const TARGETS_DIR = fileURLToPath(new URL('../targets/', import.meta.url))

/** A server measured by the echo scenarios (throughput and round trip). */
export interface EchoTarget {
  /** Short name, used by `--targets` and in the JSON results. */
  name: string
  /** Name in the tables. */
  label: string
  /** Script in bench/targets/. */
  script: string
  /** Client protocol, a key of DRIVERS in bench/load/drivers/index.ts. */
  driver: string
}

/**
 * Echo targets in table order. A target whose script or driver does not exist yet is skipped
 * with a note (plugin-reliable arrives with reliable mode: add bench/targets/plugin-reliable.ts
 * and its driver).
 */
export const ECHO_TARGETS: readonly EchoTarget[] = [
  { name: 'raw-ws', label: 'raw ws', script: 'raw-ws.ts', driver: 'ws-frames' },
  { name: 'fastify-websocket', label: '@fastify/websocket', script: 'fastify-websocket.ts', driver: 'ws-frames' },
  { name: 'plugin-plain', label: 'plugin, plain mode', script: 'plugin-plain.ts', driver: 'ws-frames' },
  { name: 'plugin-reliable', label: 'plugin, reliable mode', script: 'plugin-reliable.ts', driver: 'reliable' },
  { name: 'plugin-plain-zod', label: 'plugin, plain, Zod messages', script: 'plugin-plain-zod.ts', driver: 'ws-frames' },
  { name: 'plugin-reliable-zod', label: 'plugin, reliable, Zod messages', script: 'plugin-reliable-zod.ts', driver: 'reliable' },
  { name: 'plugin-plain-metrics', label: 'plugin, plain, metrics on', script: 'plugin-plain-metrics.ts', driver: 'ws-frames' },
  { name: 'plugin-reliable-metrics', label: 'plugin, reliable, metrics on', script: 'plugin-reliable-metrics.ts', driver: 'reliable' },
  { name: 'socketio', label: 'Socket.IO', script: 'socketio.ts', driver: 'socketio' },
  { name: 'socketio-acks', label: 'Socket.IO with acks', script: 'socketio-acks.ts', driver: 'socketio-ack' }
]

/** The echo targets every other one is compared with, in the same run. */
export const ECHO_BASELINES = ['fastify-websocket', 'raw-ws'] as const

/** Short names of the baselines for column headings. */
export const BASELINE_LABELS: Record<typeof ECHO_BASELINES[number], string> = {
  'fastify-websocket': '@fastify/websocket',
  'raw-ws': 'raw ws'
}

/** A stated target on a throughput ratio (issue 4), checked when both targets were measured. */
export interface RatioCheck {
  target: string
  baseline: string
  /** Lowest acceptable ratio target / baseline. */
  atLeast: number
  /** What the check is, in the report. */
  label: string
}

/** Throughput targets of issue 4, checked on the 64-byte payload. */
export const THROUGHPUT_CHECKS: readonly RatioCheck[] = [
  { target: 'plugin-reliable', baseline: 'fastify-websocket', atLeast: 1.0, label: 'reliable vs @fastify/websocket, 64 B (goal 1.0x)' },
  { target: 'plugin-reliable', baseline: 'fastify-websocket', atLeast: 0.6, label: 'reliable vs @fastify/websocket, 64 B (floor 0.6x)' },
  { target: 'plugin-reliable', baseline: 'socketio-acks', atLeast: 2.0, label: 'reliable vs Socket.IO with acks, 64 B (goal 2x)' }
]

/** A server setup measured by the heartbeat scenario. */
export interface HeartbeatVariant {
  name: string
  label: string
  /** Script in bench/targets/ (it must speak plain WebSocket: the idle clients are `ws`). */
  script: string
  heartbeat: HeartbeatMode
  /** Variant whose CPU time is subtracted to get the heartbeat's own cost, or null. */
  baseline: string | null
}

/** Heartbeat variants in table order; add one line for a new variant (e.g. reliable mode). */
export const HEARTBEAT_VARIANTS: readonly HeartbeatVariant[] = [
  { name: 'fws-none', label: '@fastify/websocket, no heartbeat', script: 'fastify-websocket.ts', heartbeat: 'off', baseline: null },
  { name: 'fws-classic', label: '@fastify/websocket, classic setInterval', script: 'fastify-websocket.ts', heartbeat: 'classic', baseline: 'fws-none' },
  { name: 'plugin-heartbeat', label: 'plugin, heartbeat on', script: 'plugin-plain.ts', heartbeat: 'plugin', baseline: 'plugin-off' },
  { name: 'plugin-off', label: 'plugin, heartbeat: false', script: 'plugin-plain.ts', heartbeat: 'off', baseline: null }
]

/** The heartbeat targets of issue 3: which variants the ratios compare. */
export const HEARTBEAT_CHECKS = {
  /** CPU per ping-pong of `ours` at most `cpuAtMost` times that of `classic`. */
  ours: 'plugin-heartbeat',
  classic: 'fws-classic',
  cpuAtMost: 0.8,
  /** RSS per idle connection of `ours` at most `memoryAtMost` times that of `memoryBaseline`. */
  memoryBaseline: 'fws-none',
  memoryAtMost: 1.15
} as const

/** Why a target cannot run here, or null when it can. */
export function unavailableReason (script: string, driver?: string): string | null {
  if (!existsSync(TARGETS_DIR + script)) return `bench/targets/${script} does not exist yet`
  if (driver !== undefined && DRIVERS[driver] === undefined) return `no load driver "${driver}" in bench/load/drivers/index.ts`
  return null
}
