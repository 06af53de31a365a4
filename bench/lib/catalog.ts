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
 * with a note. The frame drivers (`ws-frames`, `reliable`) measure the server; the client
 * drivers (`ws-client`, `reliable-client`, Socket.IO) measure what an application runs, client
 * CPU included.
 */
export const ECHO_TARGETS: readonly EchoTarget[] = [
  { name: 'raw-ws', label: 'raw ws', script: 'raw-ws.ts', driver: 'ws-frames' },
  { name: 'fastify-websocket', label: '@fastify/websocket', script: 'fastify-websocket.ts', driver: 'ws-frames' },
  { name: 'fastify-websocket-ws', label: '@fastify/websocket + bare ws client', script: 'fastify-websocket.ts', driver: 'ws-client' },
  { name: 'plugin-plain', label: 'plugin, plain mode', script: 'plugin-plain.ts', driver: 'ws-frames' },
  { name: 'plugin-reliable', label: 'plugin, reliable + ReliableClient', script: 'plugin-reliable.ts', driver: 'reliable-client' },
  { name: 'plugin-reliable-frames', label: 'plugin, reliable + frame driver', script: 'plugin-reliable.ts', driver: 'reliable' },
  { name: 'plugin-plain-zod', label: 'plugin, plain, Zod messages', script: 'plugin-plain-zod.ts', driver: 'ws-frames' },
  { name: 'plugin-reliable-zod', label: 'plugin, reliable, Zod messages (frame driver)', script: 'plugin-reliable-zod.ts', driver: 'reliable' },
  { name: 'plugin-plain-metrics', label: 'plugin, plain, metrics on', script: 'plugin-plain-metrics.ts', driver: 'ws-frames' },
  { name: 'plugin-reliable-metrics', label: 'plugin, reliable, metrics on (frame driver)', script: 'plugin-reliable-metrics.ts', driver: 'reliable' },
  { name: 'socketio', label: 'Socket.IO', script: 'socketio.ts', driver: 'socketio' },
  { name: 'socketio-acks', label: 'Socket.IO with acks', script: 'socketio-acks.ts', driver: 'socketio-ack' }
]

/**
 * The echo targets every other one is compared with, in the same run: the two servers driven
 * by the frame writer, and @fastify/websocket driven by a bare `ws` client (the yardstick of
 * the client-driven rows and of the reliable client's CPU).
 */
export const ECHO_BASELINES = ['fastify-websocket', 'raw-ws', 'fastify-websocket-ws'] as const

/** Short names of the baselines for column headings. */
export const BASELINE_LABELS: Record<typeof ECHO_BASELINES[number], string> = {
  'fastify-websocket': '@fastify/websocket',
  'raw-ws': 'raw ws',
  'fastify-websocket-ws': 'fws + ws client'
}

/** What a ratio check compares: throughput, server CPU per message, or client CPU per round trip. */
export type CheckedMetric = 'rate' | 'serverCpuPerMessage' | 'clientCpuPerRoundTrip'

/** A stated target on a ratio, checked at every payload size when both targets were measured. */
export interface RatioCheck {
  target: string
  baseline: string
  metric: CheckedMetric
  /** Lowest acceptable ratio target / baseline (throughput). */
  atLeast?: number
  /** Highest acceptable ratio target / baseline (CPU). */
  atMost?: number
  /** What the check is, in the report. */
  label: string
}

/** The targets of issue 12 on the reliable route driven by the package's own client. */
export const THROUGHPUT_CHECKS: readonly RatioCheck[] = [
  { target: 'plugin-reliable', baseline: 'fastify-websocket', metric: 'rate', atLeast: 1.0, label: 'reliable + ReliableClient vs @fastify/websocket, msg/s (goal at least 1.0x)' },
  { target: 'plugin-reliable', baseline: 'socketio-acks', metric: 'rate', atLeast: 2.0, label: 'reliable + ReliableClient vs Socket.IO with acks, msg/s (goal at least 2x)' },
  { target: 'plugin-reliable', baseline: 'fastify-websocket', metric: 'serverCpuPerMessage', atMost: 1.2, label: 'reliable + ReliableClient vs @fastify/websocket, server CPU per message (goal at most 1.2x)' },
  { target: 'plugin-reliable', baseline: 'fastify-websocket-ws', metric: 'clientCpuPerRoundTrip', atMost: 1.3, label: 'ReliableClient vs bare ws client, client CPU per round trip (goal at most 1.3x)' }
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
