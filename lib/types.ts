// Kept in the published declarations, so that @fastify/websocket's augmentation (injectWS) is typed too.
import '@fastify/websocket'
import type { ConnectionRegistry } from './registry.js'
import type { WsRouteMethod } from './route.js'
import type { HeartbeatManager } from './heartbeat/heartbeat-manager.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Declare a WebSocket route: `fastify.wsRoute('/ws', [options], async (connection, request) => {})`. */
    wsRoute: WsRouteMethod
    /** The open WebSocket connections: lookup by id, rooms, broadcast, close. */
    wsConnections: ConnectionRegistry
    /** The heartbeat manager: `stats()` gives pings sent, pongs received, connections terminated for silence. */
    wsHeartbeat: HeartbeatManager
  }
}
