import type { LatencySummary } from './stats.js'

/**
 * What the runner and the load generator (bench/load/main.ts) say to each other over IPC.
 * Requests: `echo:start` (EchoJob), `echo:snapshot` (EchoSnapshotRequest), `echo:stop`,
 * `idle:open` (IdleJob), `idle:traffic` (TrafficRequest), `idle:snapshot`, `exit`.
 */

/** An echo load: `connections` clients, each keeping `inFlight` requests outstanding. */
export interface EchoJob {
  /** Name of the driver in bench/load/drivers/index.ts. */
  driver: string
  port: number
  connections: number
  inFlight: number
  /** Size of each message, in bytes (ASCII text). */
  payloadBytes: number
  /** Record the round-trip time of every reply (needs `inFlight` 1). */
  recordLatency: boolean
}

/** Payload of `echo:snapshot`. */
export interface EchoSnapshotRequest {
  /** Forget the latency samples taken so far, after summarising them. */
  resetLatency: boolean
}

/** Cumulative figures of the load process at one instant. */
export interface EchoSnapshot {
  /** `performance.now()` of the load process, in ms. */
  time: number
  /** Replies received since the load started. */
  replies: number
  /** User plus system CPU time of the load process, in µs. */
  cpu: number
  /** Round trips since the last reset, in µs; null when none were recorded. */
  latency: LatencySummary | null
  /** Connections that closed while the load was running. */
  dropped: number
}

/** Idle connections for the heartbeat scenario. */
export interface IdleJob {
  port: number
  connections: number
  /** Handshakes in progress at once while opening. */
  concurrency: number
}

/** Answer to `idle:open`. */
export interface IdleOpened {
  opened: number
  failed: number
  /** Time the opening took, in ms. */
  elapsed: number
  /** The first failure, if any. */
  firstError: string | null
}

/** Payload of `idle:traffic`. */
export interface TrafficRequest {
  /** Each connection sends one small message every this many ms; 0 stops the traffic. */
  interval: number
}

/** Cumulative figures of the idle load at one instant. */
export interface IdleSnapshot {
  time: number
  cpu: number
  /** Protocol pings received over all connections. */
  pings: number
  /** Messages sent by the traffic mode. */
  sent: number
  /** Connections that closed (a heartbeat that terminated a live client would show here). */
  dropped: number
}
