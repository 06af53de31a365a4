import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import { loadCompiledPlugin } from './compiled-plugin.js'
import type { FastifyReliableWsOptions } from '../../lib/index.js'
import type { TargetConfig } from '../lib/target-protocol.js'
import { ECHO_PATH } from '../lib/target-protocol.js'
import { serveTarget, unsupportedMode } from './serve.js'

function heartbeatOption (config: TargetConfig): Pick<FastifyReliableWsOptions, 'heartbeat'> {
  switch (config.heartbeat) {
    case 'default': return {}
    case 'off': return { heartbeat: false }
    case 'plugin': return { heartbeat: { pingInterval: config.pingInterval, pongTimeout: config.pongTimeout } }
    default: throw unsupportedMode('plugin-plain', config)
  }
}

/**
 * Target: the plugin in plain mode with an echo route. Heartbeat modes: default (the plugin's
 * defaults), off (`heartbeat: false`), plugin (`heartbeat: { pingInterval, pongTimeout }`).
 */
serveTarget(async (config) => {
  const { default: fastifyReliableWs } = await loadCompiledPlugin()
  const app = Fastify({ logger: false })
  // Every load client connects from 127.0.0.1: per-address limits would measure themselves.
  await app.register(fastifyReliableWs, { maxConnections: config.maxConnections, maxConnectionsPerAddress: Infinity, upgradeRate: false, ...heartbeatOption(config) })
  app.wsRoute(ECHO_PATH, (connection) => {
    connection.on('message', (data) => { void connection.send(data) })
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return {
    port: (app.server.address() as AddressInfo).port,
    connections: () => app.wsConnections.size,
    counters: () => ({ ...app.wsHeartbeat.stats() })
  }
})
