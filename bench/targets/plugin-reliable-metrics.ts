import { serveEchoWithMetrics } from './with-metrics.js'

/** Target: plugin-reliable's echo with the Prometheus metrics on (see with-metrics.ts). */
serveEchoWithMetrics('plugin-reliable-metrics', true)
