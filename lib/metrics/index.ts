/**
 * `fastify-reliable-ws/metrics`: Prometheus metrics through prom-client (an optional peer
 * dependency: install it to use this entry), and the diagnostics channels they are built on
 * (docs/METRICS.md). Node only: neither the plugin entry nor the client imports it.
 */
export { DEFAULT_RTT_BUCKETS, registerMetrics } from './prometheus.js'
export type { DisposeMetrics, PrometheusMetricsOptions } from './prometheus.js'
export { CHANNEL_NAMES, channels } from './channels.js'
export type * from './channels.js'
