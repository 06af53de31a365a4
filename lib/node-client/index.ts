/**
 * `fastify-reliable-ws/client/node`: Node-only pieces for the client (docs/CLIENT.md, "Node").
 * The browser bundle never imports this folder.
 */
export { BatchingWebSocket } from './batching-websocket.js'
