/**
 * What the runner and a target server say to each other over IPC (bench/targets/serve.ts
 * implements the target side).
 */

/**
 * How a target runs heartbeats:
 * - `default`: whatever the server does out of the box (the plugin: its default heartbeat;
 *   @fastify/websocket and ws: none; Socket.IO: its own 25 s ping);
 * - `off`: no heartbeat at all;
 * - `classic`: the ws README recipe, one `setInterval` every `pingInterval` that terminates the
 *   clients that did not answer the previous round and pings all others;
 * - `plugin`: the plugin's heartbeat with `pingInterval` and `pongTimeout`.
 */
export type HeartbeatMode = 'default' | 'off' | 'classic' | 'plugin'

/** Settings the runner gives a target when it starts it. */
export interface TargetConfig {
  heartbeat: HeartbeatMode
  /** Heartbeat ping interval, in ms (modes `classic` and `plugin`). */
  pingInterval: number
  /** Heartbeat pong timeout, in ms (mode `plugin`). */
  pongTimeout: number
  /** Most connections the server must accept (the plugin's `maxConnections`). */
  maxConnections: number
}

/** What a target answers to `start`. */
export interface TargetStarted {
  /** TCP port on 127.0.0.1. */
  port: number
}

/** What a target answers to `stats`: cumulative process figures at one instant. */
export interface TargetStats {
  /** `performance.now()` of the target, in ms. */
  time: number
  /** User plus system CPU time since the process started, in µs. */
  cpu: number
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  arrayBuffers: number
  /** Open WebSocket connections the server holds. */
  connections: number
  /** Target-specific counters, e.g. pings sent by the classic heartbeat. */
  counters: Record<string, number>
}

/** Payload of the `stats` request. */
export interface StatsRequest {
  /** Run a full garbage collection first (the target runs with `--expose-gc`). */
  gc: boolean
}

/** URL path of the echo endpoint in every WebSocket target (Socket.IO uses its own path). */
export const ECHO_PATH = '/ws'

/** Socket.IO event name of the echo in the Socket.IO targets. */
export const ECHO_EVENT = 'echo'
