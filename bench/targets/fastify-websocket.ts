import fastifyWebsocket from '@fastify/websocket'
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import { ECHO_PATH } from '../lib/target-protocol.js'
import { classicCounters, startClassicHeartbeat, trackClassic } from './classic-heartbeat.js'
import { serveTarget, unsupportedMode } from './serve.js'

/**
 * Target: raw @fastify/websocket with its defaults and an echo route. Heartbeat modes:
 * default/off (none, as shipped), classic.
 */
serveTarget(async (config) => {
  if (config.heartbeat === 'plugin') throw unsupportedMode('fastify-websocket', config)
  const classic = config.heartbeat === 'classic'
  const app = Fastify({ logger: false })
  await app.register(fastifyWebsocket)
  app.get(ECHO_PATH, { websocket: true }, (socket) => {
    if (classic) trackClassic(socket)
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  if (classic) startClassicHeartbeat(app.websocketServer.clients, config.pingInterval)
  return {
    port: (app.server.address() as AddressInfo).port,
    connections: () => app.websocketServer.clients.size,
    counters: () => ({ ...classicCounters })
  }
})
