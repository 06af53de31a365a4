import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import fastifyWebsocket from '@fastify/websocket'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { WebSocket } from 'ws'
import { closeAllGracefully } from './graceful-close.js'
import type { FastifyReliableWsOptions } from './options.js'
import { resolveOptions } from './options.js'
import { createWsRoute } from './route.js'
import { ServerState } from './server-state.js'
import { createUpgradeGate, markWebSocketRoute } from './upgrade-admission.js'
import { MemorySessionStore } from './store/memory-session-store.js'
import { chooseSubprotocol } from './subprotocol-choice.js'
import './types.js'

async function reliableWsPlugin (fastify: FastifyInstance, options: FastifyReliableWsOptions): Promise<void> {
  const settings = resolveOptions(options)
  const ownStore = settings.sessionStore === undefined ? new MemorySessionStore() : undefined
  const state = new ServerState(settings, settings.sessionStore ?? (ownStore as MemorySessionStore), fastify.log)

  if (fastify.hasDecorator('websocketServer')) {
    // The app registered @fastify/websocket itself: its server reads maxPayload at each upgrade.
    fastify.websocketServer.options.maxPayload = settings.maxPayload
    fastify.websocketServer.options.handleProtocols ??= chooseSubprotocol
    state.foreignClients = fastify.websocketServer.clients
  } else {
    await fastify.register(fastifyWebsocket, {
      options: { maxPayload: settings.maxPayload, clientTracking: false, handleProtocols: chooseSubprotocol },
      // Our own preClose hook closes connections with 1001 and waits; theirs would close without a code.
      preClose: (done) => done()
    })
  }

  // Prepended: every upgrade socket is held (and counted) from its arrival, before any hook runs.
  fastify.server.prependListener('upgrade', state.upgradeArrived)
  // Every upgrade that completes, on our routes or the app's own, ends its handshake timer.
  fastify.websocketServer.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    state.upgrades.settle(request)
    state.held.upgraded(request, socket)
  })
  fastify.addHook('onRoute', markWebSocketRoute)
  fastify.addHook('onRequest', createUpgradeGate(state))

  const fanout = settings.fanout
  if (fanout !== undefined) {
    await fanout.start(state.fannedIn, (error) => fastify.log.warn({ err: error }, 'fan-out failed'))
    state.fanout = fanout
    state.registry.publish = (message) => fanout.publish(message)
  }

  fastify.decorate('wsConnections', state.registry)
  fastify.decorate('wsHeartbeat', state.heartbeat)
  fastify.decorate('wsRoute', createWsRoute(state))

  // Fastify answers upgrades that arrive while it closes with its own 503, but nobody would end
  // those raw sockets and server.close() would wait for them; this listener runs after that answer.
  const endLateUpgrade = (_request: IncomingMessage, socket: Socket): void => { socket.destroySoon() }
  fastify.addHook('preClose', async function closeWebSockets () {
    state.closing = true
    fastify.server.on('upgrade', endLateUpgrade)
    await closeAllGracefully(state.registry, state.held, settings.closeTimeout, fastify.log)
  })
  fastify.addHook('onClose', async function stopTimers () {
    fastify.server.removeListener('upgrade', state.upgradeArrived)
    fastify.server.removeListener('upgrade', endLateUpgrade)
    state.stop()
    await ownStore?.close()
    await fanout?.close()
  })
}

/** The plugin: `fastify.register(fastifyReliableWs, options)`. */
const fastifyReliableWs: FastifyPluginAsync<FastifyReliableWsOptions> = fp(reliableWsPlugin, {
  fastify: '5.x',
  name: 'fastify-reliable-ws'
})

export default fastifyReliableWs
export { fastifyReliableWs }
export type { FastifyReliableWsOptions, HeartbeatOptions, UpgradeRateOptions, WsRouteOverrides } from './options.js'
export type { LimitOptions, RateLimitOptions } from './limits/limit-options.js'
export type { OriginOption } from './origin-policy.js'
export type { ReliableWsHandler, WsRouteMethod, WsRouteOptions } from './route.js'
export type { WsHandler } from './server-state.js'
export { WsConnection } from './connection.js'
export type { CloseCause, CloseInfo, WsConnectionEvents, WsMessage, WsOutgoing } from './connection.js'
export { ConnectionRegistry } from './registry.js'
export type { Fanout, FanoutMessage, FanoutBroadcast, FanoutClaim } from './fanout/fanout.js'
export { ReliableConnection } from './reliable/reliable-connection.js'
export type { ReliableSendOptions, RequestOptions } from './reliable/reliable-connection.js'
export type { ReliableOptions } from './reliable/reliable-options.js'
export type { SessionBudgetOptions } from './reliable/session-budget-options.js'
export { MemorySessionStore } from './store/memory-session-store.js'
export type { SessionStore, SessionState, SessionPatch, ClaimResult, StoredMessage } from './store/session-store.js'
export type { Respond } from './connection.js'
export type { BroadcastOptions } from './registry.js'
export { CloseCode, CloseReason } from './protocol/close-codes.js'
export * as errors from './errors.js'
export type { TypedWsHandler, TypedReliableWsHandler } from './route.js'
export type { UntypedMessages } from './connection.js'
export { jsonCodec } from './messages/codec.js'
export type { MessageCodec } from './messages/codec.js'
export type {
  MessageSchemas, RequestSchemas, InvalidMessage, MessageTypes, ServerMessageTypes, ClientMessageTypes, Received, Sendable
} from './messages/types.js'
export type { StandardSchemaV1 } from './messages/standard-schema.js'
export { CHANNEL_NAMES, channels } from './metrics/channels.js'
export type {
  AdmissionLimit, AdmissionRefusedMessage, ConnectionCloseMessage, ConnectionMessage, ConnectionOpenMessage,
  HeartbeatRttMessage, HeartbeatTimeoutMessage, LimitHitMessage, LimitName, MessageTrafficMessage, ResumeOutcome,
  ResumeOutcomeMessage, SessionEndMessage, SessionResumeMessage, SessionSuspendMessage, TypedChannel
} from './metrics/channels.js'
