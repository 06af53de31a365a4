import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import { loadCompiledPlugin } from './compiled-plugin.js'
import { ECHO_PATH } from '../lib/target-protocol.js'
import { serveTarget, unsupportedMode } from './serve.js'
import { enableMetrics } from './with-metrics.js'

/**
 * Target: plugin-plain with the Prometheus metrics on (`registerMetrics` from
 * `fastify-reliable-ws/metrics`). Compared with plugin-plain in the same run, it gives the cost of
 * metrics for an application that turns them on. Heartbeat modes: default only.
 */
serveTarget(async (config) => {
  const { default: fastifyReliableWs } = await loadCompiledPlugin()
  if (config.heartbeat !== 'default') throw unsupportedMode('plugin-plain-metrics', config)
  const app = Fastify({ logger: false })
  // Every load client connects from 127.0.0.1: per-address limits would measure themselves.
  await app.register(fastifyReliableWs, { maxConnections: config.maxConnections, maxConnectionsPerAddress: Infinity, upgradeRate: false })
  app.wsRoute(ECHO_PATH, (connection) => {
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
