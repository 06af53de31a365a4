import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdapter } from '@socket.io/redis-adapter'
import { Redis } from 'ioredis'
import { Server } from 'socket.io'
import { announceNode, nodeSettings } from './node-ipc.js'
import { BROADCAST_ROOM } from './paths.js'

/**
 * One Socket.IO 4 node with `@socket.io/redis-adapter` for the Redis benchmark: WebSocket
 * transport only, its default heartbeat. A client with `?role=publisher` has every `say` event
 * sent to the room (`io.to(room).emit`, reaching the other nodes through the adapter); every
 * other client joins the room.
 */
const settings = nodeSettings()
const pub = new Redis({ port: settings.redisPort, host: '127.0.0.1' })
const sub = pub.duplicate()
await Promise.all([once(pub, 'ready'), once(sub, 'ready')])

const httpServer = createServer()
const io = new Server(httpServer, { transports: ['websocket'], serveClient: false, adapter: createAdapter(pub, sub, { key: settings.channel }) })
io.on('connection', (socket) => {
  if (socket.handshake.query.role === 'publisher') {
    socket.on('say', (data: string) => { io.to(BROADCAST_ROOM).emit('m', data) })
  } else {
    void socket.join(BROADCAST_ROOM)
  }
})
httpServer.listen(0, '127.0.0.1')
await once(httpServer, 'listening')
announceNode((httpServer.address() as AddressInfo).port)
