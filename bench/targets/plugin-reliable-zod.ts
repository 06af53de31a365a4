import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import { loadCompiledPlugin } from './compiled-plugin.js'
import { ECHO_PATH } from '../lib/target-protocol.js'
import { serveTarget, unsupportedMode } from './serve.js'
import { ECHO_MESSAGES } from './typed-echo-schema.js'

/**
 * Target: the plugin in reliable mode with a typed echo route (`messages` with Zod schemas).
 * Compared with plugin-reliable, it gives the cost of typed messages. Heartbeat modes: default only.
 */
serveTarget(async (config) => {
  const { default: fastifyReliableWs } = await loadCompiledPlugin()
  if (config.heartbeat !== 'default') throw unsupportedMode('plugin-reliable-zod', config)
  const app = Fastify({ logger: false })
  // Every load client connects from 127.0.0.1: per-address limits would measure themselves.
  await app.register(fastifyReliableWs, { maxConnections: config.maxConnections, maxConnectionsPerAddress: Infinity, upgradeRate: false })
  app.wsRoute(ECHO_PATH, { reliable: true, messages: ECHO_MESSAGES }, (connection) => {
    connection.on('message', (message) => { void connection.send(message) })
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return {
    port: (app.server.address() as AddressInfo).port,
    connections: () => app.wsConnections.size
  }
})
