import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import { ECHO_PATH } from '../lib/target-protocol.js'
import { classicCounters, startClassicHeartbeat, trackClassic } from './classic-heartbeat.js'
import { serveTarget, unsupportedMode } from './serve.js'

/** Target: a plain `ws` WebSocketServer echoing every message. Heartbeat modes: default/off (none), classic. */
serveTarget(async (config) => {
  if (config.heartbeat === 'plugin') throw unsupportedMode('raw-ws', config)
  const classic = config.heartbeat === 'classic'
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: ECHO_PATH })
  await once(wss, 'listening')
  wss.on('connection', (socket) => {
    if (classic) trackClassic(socket)
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
  })
  if (classic) startClassicHeartbeat(wss.clients, config.pingInterval)
  return {
    port: (wss.address() as AddressInfo).port,
    connections: () => wss.clients.size,
    counters: () => ({ ...classicCounters })
  }
})
