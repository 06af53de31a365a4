import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server } from 'socket.io'
import type { Socket } from 'socket.io'
import type { TargetConfig } from '../lib/target-protocol.js'
import type { RunningTarget } from './serve.js'
import { unsupportedMode } from './serve.js'

/**
 * A Socket.IO 4 server on 127.0.0.1 with the WebSocket transport only (the load generator skips
 * long-polling) and its own default heartbeat, calling `onConnection` for each client.
 */
export async function startSocketIo (
  name: string, config: TargetConfig, onConnection: (socket: Socket) => void
): Promise<RunningTarget> {
  if (config.heartbeat !== 'default') throw unsupportedMode(name, config)
  const httpServer = createServer()
  const io = new Server(httpServer, { transports: ['websocket'], serveClient: false })
  io.on('connection', onConnection)
  httpServer.listen(0, '127.0.0.1')
  await once(httpServer, 'listening')
  return {
    port: (httpServer.address() as AddressInfo).port,
    connections: () => io.engine.clientsCount
  }
}
