/**
 * Prometheus metrics for one plugin registration, through prom-client (an optional peer
 * dependency, imported only by the `fastify-reliable-ws/metrics` entry). Counters and the RTT
 * histogram follow the diagnostics channels; the gauges are read from `fastify.wsConnections` at
 * each scrape, so they are exact even for connections opened before `registerMetrics()`.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'
import { checkKnownKeys, checkObject, invalidOption } from '../option-checks.js'
import { ReliableConnection } from '../reliable/reliable-connection.js'
import type { ConnectionRegistry } from '../registry.js'
import { CHANNEL_NAMES } from './channels.js'
import type {
  AdmissionRefusedMessage, ConnectionCloseMessage, HeartbeatRttMessage, HeartbeatTimeoutMessage,
  LimitHitMessage, MessageTrafficMessage, ResumeOutcomeMessage
} from './channels.js'
import { serverIdOf } from './server-ids.js'
import '../types.js'

/** Options of {@link registerMetrics}. */
export interface PrometheusMetricsOptions {
  /** The prom-client registry the metrics are registered on (e.g. prom-client's default `register`). */
  registry: Registry
  /** Prefix of every metric name. @default 'frws_' */
  prefix?: string
  /** Bucket upper bounds of the heartbeat RTT histogram, in seconds. @default [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] */
  rttBuckets?: number[]
}

/** Unregisters the metrics and unsubscribes from the channels. Idempotent. */
export type DisposeMetrics = () => void

/** Default buckets of `frws_heartbeat_rtt_seconds`, in seconds. */
export const DEFAULT_RTT_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

const OPTION_KEYS = ['registry', 'prefix', 'rttBuckets'] as const
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

/** The four traffic series of one route, looked up once per route instead of hashing labels per message. */
/** Messages and bytes of one route not yet added to the counters (they are added at scrape time). */
interface RouteTraffic {
  messagesIn: number
  bytesIn: number
  messagesOut: number
  bytesOut: number
}

function checkOptions (options: unknown): Required<PrometheusMetricsOptions> {
  const object = checkObject('registerMetrics options', options)
  checkKnownKeys('', object, OPTION_KEYS)
  const { registry, prefix = 'frws_', rttBuckets = [...DEFAULT_RTT_BUCKETS] } = object as Partial<PrometheusMetricsOptions>
  if (typeof registry !== 'object' || registry === null || typeof (registry as Partial<Registry>).registerMetric !== 'function') {
    invalidOption('registry', 'a prom-client Registry', registry)
  }
  if (typeof prefix !== 'string' || !METRIC_NAME.test(prefix + 'x')) invalidOption('prefix', 'a Prometheus metric name prefix', prefix)
  if (!Array.isArray(rttBuckets) || rttBuckets.length === 0 || !rttBuckets.every((bound, i) => typeof bound === 'number' && bound > 0 && (i === 0 || bound > rttBuckets[i - 1]))) {
    invalidOption('rttBuckets', 'an increasing array of positive numbers of seconds', rttBuckets)
  }
  return { registry, prefix, rttBuckets }
}

/** The registry of connections of `app`, or a coded error when the plugin is not registered there. */
function connectionsOf (app: FastifyInstance): { registry: ConnectionRegistry, serverId: string } {
  const registry = (app as Partial<FastifyInstance>).wsConnections
  const serverId = registry === undefined ? undefined : serverIdOf(registry)
  if (registry === undefined || serverId === undefined) invalidOption('app', 'a Fastify instance with fastify-reliable-ws registered', app)
  return { registry, serverId }
}

/**
 * Register the plugin's Prometheus metrics for `app` on `options.registry`. Call it after
 * registering the plugin. Only this registration's connections are counted, even when several
 * share the process. See README, "Metrics", for the metrics and their labels.
 * @returns a function that unregisters the metrics and unsubscribes from the channels
 */
export function registerMetrics (app: FastifyInstance, options: PrometheusMetricsOptions): DisposeMetrics {
  const { registry: promRegistry, prefix, rttBuckets } = checkOptions(options)
  const { registry: connections, serverId } = connectionsOf(app)
  const registers = [promRegistry]

  new Gauge({
    name: `${prefix}connections`,
    help: 'Open WebSocket connections (sockets), by route; suspended reliable sessions are not counted',
    labelNames: ['route'] as const,
    registers,
    collect () {
      this.reset()
      for (const connection of connections) {
        if (!(connection instanceof ReliableConnection) || connection.isAttached) this.inc({ route: connection.route })
      }
    }
  })
  new Gauge({
    name: `${prefix}sessions_suspended`,
    help: 'Reliable sessions waiting for their client to resume',
    registers,
    collect () {
      let count = 0
      for (const connection of connections) if (connection instanceof ReliableConnection && !connection.isAttached) count++
      this.set(count)
    }
  })
  new Gauge({
    name: `${prefix}unacked_messages`,
    help: 'Messages sent on reliable sessions and not yet acknowledged by their client',
    registers,
    collect () {
      let count = 0
      for (const connection of connections) if (connection instanceof ReliableConnection) count += connection.unackedCount
      this.set(count)
    }
  })
  // Per-message traffic is summed in plain numbers and added to the two counters when they are
  // read: a prom-client inc() hashes and checks its labels, which cost more than a message's own
  // bookkeeping (issue 11, the cost of metrics on the hot path).
  const traffic = new Map<string, RouteTraffic>()
  const trafficOf = (route: string): RouteTraffic => {
    let series = traffic.get(route)
    if (series === undefined) {
      series = { messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0 }
      traffic.set(route, series)
    }
    return series
  }
  const flushTraffic = (): void => {
    for (const [route, series] of traffic) {
      if (series.messagesIn > 0) {
        messages.inc({ direction: 'in', route }, series.messagesIn)
        bytes.inc({ direction: 'in', route }, series.bytesIn)
      }
      if (series.messagesOut > 0) {
        messages.inc({ direction: 'out', route }, series.messagesOut)
        bytes.inc({ direction: 'out', route }, series.bytesOut)
      }
      series.messagesIn = series.bytesIn = series.messagesOut = series.bytesOut = 0
    }
  }
  const messages: Counter<'direction' | 'route'> = new Counter({
    name: `${prefix}messages_total`,
    help: 'WebSocket messages read (in) and written (out), reliable-mode control frames included',
    labelNames: ['direction', 'route'] as const,
    registers,
    collect: flushTraffic
  })
  const bytes: Counter<'direction' | 'route'> = new Counter({
    name: `${prefix}bytes_total`,
    help: 'Payload bytes of the WebSocket messages read (in) and written (out)',
    labelNames: ['direction', 'route'] as const,
    registers,
    collect: flushTraffic
  })
  const closes = new Counter({
    name: `${prefix}closes_total`,
    help: 'Closed connections (sockets), by close code',
    labelNames: ['code'] as const,
    registers
  })
  const resumes = new Counter({
    name: `${prefix}resumes_total`,
    help: 'Resume attempts by outcome: resumed, continuity_lost (a new session instead), refused',
    labelNames: ['outcome'] as const,
    registers
  })
  const limitHits = new Counter({
    name: `${prefix}limit_hits_total`,
    help: 'Connections closed or sessions ended by a limit or the session budget, by limit and close code',
    labelNames: ['limit', 'code'] as const,
    registers
  })
  const refusals = new Counter({
    name: `${prefix}admission_refusals_total`,
    help: 'Upgrade requests refused with plain HTTP before the handshake, by limit and status',
    labelNames: ['limit', 'status'] as const,
    registers
  })
  const heartbeatTimeouts = new Counter({
    name: `${prefix}heartbeat_timeouts_total`,
    help: 'Connections ended by the heartbeat: pong (no answer to a ping) or idle (no message)',
    labelNames: ['timeout'] as const,
    registers
  })
  const rtt = new Histogram({
    name: `${prefix}heartbeat_rtt_seconds`,
    help: 'Round trip of heartbeat pings answered by a protocol pong',
    buckets: rttBuckets,
    registers
  })
  const names = ['connections', 'sessions_suspended', 'unacked_messages', 'messages_total', 'bytes_total', 'closes_total',
    'resumes_total', 'limit_hits_total', 'admission_refusals_total', 'heartbeat_timeouts_total', 'heartbeat_rtt_seconds']

  const listeners: Array<[string, (message: unknown) => void]> = []
  function on<Message extends { serverId: string }> (name: string, listener: (message: Message) => void): void {
    const filtered = (message: unknown): void => {
      if ((message as Message).serverId === serverId) listener(message as Message)
    }
    diagnosticsChannel.subscribe(name, filtered)
    listeners.push([name, filtered])
  }
  on<MessageTrafficMessage>(CHANNEL_NAMES.messageIn, ({ route, bytes }) => {
    const series = trafficOf(route)
    series.messagesIn++
    series.bytesIn += bytes
  })
  on<MessageTrafficMessage>(CHANNEL_NAMES.messageOut, ({ route, bytes }) => {
    const series = trafficOf(route)
    series.messagesOut++
    series.bytesOut += bytes
  })
  on<ConnectionCloseMessage>(CHANNEL_NAMES.connectionClose, ({ code }) => closes.inc({ code: String(code) }))
  on<ResumeOutcomeMessage>(CHANNEL_NAMES.resumeOutcome, ({ outcome }) => resumes.inc({ outcome }))
  on<LimitHitMessage>(CHANNEL_NAMES.limitHit, ({ limit, code }) => limitHits.inc({ limit, code: String(code) }))
  on<AdmissionRefusedMessage>(CHANNEL_NAMES.admissionRefused, ({ limit, statusCode }) => refusals.inc({ limit, status: String(statusCode) }))
  on<HeartbeatTimeoutMessage>(CHANNEL_NAMES.heartbeatTimeout, ({ timeout }) => heartbeatTimeouts.inc({ timeout }))
  on<HeartbeatRttMessage>(CHANNEL_NAMES.heartbeatRtt, (message) => rtt.observe(message.rtt / 1000))

  let disposed = false
  return function disposeMetrics () {
    if (disposed) return
    disposed = true
    for (const [name, listener] of listeners) diagnosticsChannel.unsubscribe(name, listener)
    for (const name of names) promRegistry.removeSingleMetric(prefix + name)
  }
}
