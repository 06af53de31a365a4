import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Registry } from 'prom-client'
import { loadCompiledPlugin } from './compiled-plugin.js'
import { ECHO_PATH } from '../lib/target-protocol.js'
import { serveTarget, unsupportedMode } from './serve.js'

type MetricsModule = typeof import('../../lib/metrics/index.js')

const DIST_METRICS = new URL('../../dist/metrics/index.js', import.meta.url)

/**
 * Turn the Prometheus metrics on for `app`, from the compiled `fastify-reliable-ws/metrics` entry
 * (as users run it), on a fresh registry. Every diagnostics channel then has a subscriber, so the
 * target pays the full cost of publishing and counting.
 */
async function enableMetrics (app: FastifyInstance): Promise<Registry> {
  if (!existsSync(DIST_METRICS)) throw new Error(`${fileURLToPath(DIST_METRICS)} is missing: run \`npm run build\` first`)
  const { registerMetrics } = await import(DIST_METRICS.href) as MetricsModule
  const registry = new Registry()
  registerMetrics(app, { registry })
  return registry
}

/**
 * Serve the echo of plugin-plain or plugin-reliable with the Prometheus metrics on. Compared with
 * the same route without metrics in the same run, it gives the cost of metrics for an application
 * that turns them on. Heartbeat modes: default only.
 * @param name - the target's name, for errors
 */
export function serveEchoWithMetrics (name: string, reliable: boolean): void {
  serveTarget(async (config) => {
    const { default: fastifyReliableWs } = await loadCompiledPlugin()
    if (config.heartbeat !== 'default') throw unsupportedMode(name, config)
    const app = Fastify({ logger: false })
    // Every load client connects from 127.0.0.1: per-address limits would measure themselves.
    await app.register(fastifyReliableWs, { maxConnections: config.maxConnections, maxConnectionsPerAddress: Infinity, upgradeRate: false })
    app.wsRoute(ECHO_PATH, { reliable }, (connection) => {
      connection.on('message', (data) => { void connection.send(data) })
    })
    await app.ready()
    await enableMetrics(app)
    await app.listen({ host: '127.0.0.1', port: 0 })
    return {
      port: (app.server.address() as AddressInfo).port,
      connections: () => app.wsConnections.size
    }
  })
}
