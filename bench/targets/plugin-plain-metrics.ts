import { serveEchoWithMetrics } from './with-metrics.js'

/** Target: plugin-plain's echo with the Prometheus metrics on (see with-metrics.ts). */
serveEchoWithMetrics('plugin-plain-metrics', false)
