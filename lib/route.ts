import fastifyCors from '@fastify/cors'
import type { FastifyInstance, FastifyRequest, RouteShorthandOptions } from 'fastify'
import type { WebSocket } from 'ws'
import type { ResolvedRouteSettings, WsRouteOverrides } from './options.js'
import { resolveRouteSettings } from './options.js'
import { checkOrigin } from './origin-policy.js'
import type { ServerState, WsHandler } from './server-state.js'
import type { WsConnection } from './connection.js'
import { createAdmissionHook } from './upgrade-admission.js'
import { FRWS_ERR_ROUTE_INVALID } from './errors.js'
import { checkKnownKeys } from './option-checks.js'
import { PROTOCOL_VERSION, SUBPROTOCOL } from './protocol/version.js'
import type { ReliableOptions } from './reliable/reliable-options.js'
import type { ReliableConnection } from './reliable/reliable-connection.js'
import { resolveReliable } from './reliable/reliable-options.js'
import { LIMIT_KEYS, checkBufferFitsReplay } from './limits/limit-options.js'
import type { MessageSchemas, ServerMessageTypes } from './messages/types.js'
import { resolveMessages } from './messages/validate.js'
import type { ResolvedMessages } from './messages/validate.js'
import { checkObject, invalidOption } from './option-checks.js'

/** Fastify route options a WebSocket route accepts, plus the plugin's per-route overrides. */
export type WsRouteOptions = Pick<RouteShorthandOptions, typeof FASTIFY_ROUTE_KEYS[number]> & WsRouteOverrides & {
    /** Reliable mode: sequence numbers, acks, replay and resume (docs/PROTOCOL.md). @default false */
    reliable?: boolean | ReliableOptions
    /**
     * Typed messages: Standard Schema v1 schemas (Zod, Valibot, ArkType...) for what each side
     * sends, and a codec (JSON in text frames by default). The handler's events, `send()` and
     * `request()` are typed from them (README, "Typed messages"). @default none: payloads pass as they are
     */
    messages?: MessageSchemas
  }

/** A handler of a reliable route: its connection is a {@link ReliableConnection} (acks, `request()`, resume). */
export type ReliableWsHandler<Data extends object = Record<string, unknown>> =
  (connection: ReliableConnection<Data>, request: FastifyRequest) => void | Promise<void>

/** A handler of a plain route with `messages`: payloads typed from the schemas. */
export type TypedWsHandler<Data extends object, M extends MessageSchemas> =
  (connection: WsConnection<Data, ServerMessageTypes<M>>, request: FastifyRequest) => void | Promise<void>

/** A handler of a reliable route with `messages`: payloads typed from the schemas. */
export type TypedReliableWsHandler<Data extends object, M extends MessageSchemas> =
  (connection: ReliableConnection<Data, ServerMessageTypes<M>>, request: FastifyRequest) => void | Promise<void>

/** `fastify.wsRoute(url, [options], handler)`: declare a WebSocket route. */
export interface WsRouteMethod {
  <Data extends object = Record<string, unknown>, const M extends MessageSchemas = MessageSchemas>(
    url: string, options: WsRouteOptions & { reliable: true | ReliableOptions, messages: M }, handler: TypedReliableWsHandler<Data, M>
  ): FastifyInstance
  <Data extends object = Record<string, unknown>, const M extends MessageSchemas = MessageSchemas>(
    url: string, options: WsRouteOptions & { messages: M }, handler: TypedWsHandler<Data, M>
  ): FastifyInstance
  <Data extends object = Record<string, unknown>>(url: string, handler: WsHandler<Data>): FastifyInstance
  <Data extends object = Record<string, unknown>>(
    url: string, options: WsRouteOptions & { reliable: true | ReliableOptions }, handler: ReliableWsHandler<Data>
  ): FastifyInstance
  <Data extends object = Record<string, unknown>>(url: string, options: WsRouteOptions, handler: WsHandler<Data>): FastifyInstance
}

/** The Fastify route options a WebSocket route passes on to Fastify. */
const FASTIFY_ROUTE_KEYS = [
  'onRequest', 'preParsing', 'preValidation', 'preHandler', 'onResponse', 'onError', 'schema', 'config', 'logLevel', 'constraints'
] as const
const OVERRIDE_KEYS = [
  'origins', 'allowMissingOrigin', 'handshakeTimeout', 'heartbeat', 'idleTimeout', 'infoRoute', 'appPing', ...LIMIT_KEYS
] as const
// A misspelt option must fail loudly rather than leave a route silently plain (`reliabel: true`).
const ROUTE_KEYS: readonly string[] = [...OVERRIDE_KEYS, 'reliable', 'messages', ...FASTIFY_ROUTE_KEYS]

function asArray<T> (value: T | T[] | undefined): T[] {
  if (value === undefined) return []
  return Array.isArray(value) ? value : [value]
}

/** Build the `wsRoute` decorator bound to the plugin's state. */
export function createWsRoute (state: ServerState): WsRouteMethod {
  return function wsRoute (
    this: FastifyInstance, url: string, optionsOrHandler: WsRouteOptions | WsHandler<object>, maybeHandler?: WsHandler<object>
  ): FastifyInstance {
    const [options, handler] = typeof optionsOrHandler === 'function'
      ? [{} as WsRouteOptions, optionsOrHandler]
      : [optionsOrHandler, maybeHandler]
    if (typeof url !== 'string' || !url.startsWith('/')) throw new FRWS_ERR_ROUTE_INVALID('the url must be a string starting with "/"')
    if (typeof options !== 'object' || options === null) throw new FRWS_ERR_ROUTE_INVALID('the options must be an object')
    if (typeof handler !== 'function') throw new FRWS_ERR_ROUTE_INVALID('the handler must be a function')

    checkKnownKeys('', options as Record<string, unknown>, ROUTE_KEYS)
    const overrides: WsRouteOverrides = {}
    const routeOptions: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(options)) {
      if (key === 'reliable' || key === 'messages') continue
      if ((OVERRIDE_KEYS as readonly string[]).includes(key)) (overrides as Record<string, unknown>)[key] = value
      else routeOptions[key] = value
    }
    const settings = resolveRouteSettings(state.options, overrides)
    const reliable = resolveReliable(options.reliable)
    if (options.messages !== undefined) settings.messages = checkMessages(options.messages)
    if (reliable !== undefined) checkBufferFitsReplay(settings.limits, reliable.maxUnackedBytes)

    this.route({
      ...routeOptions,
      method: 'GET',
      url,
      websocket: true,
      onRequest: [
        createAdmissionHook(state, settings, reliable !== undefined),
        ...asArray(options.onRequest)
      ],
      onResponse: [
        // An upgrade answered with an HTTP error (401 from an auth hook, say) no longer counts as pending.
        async (request: FastifyRequest) => state.upgrades.settle(request.raw),
        ...asArray(options.onResponse)
      ],
      handler: ((socket: WebSocket, request: FastifyRequest) => state.accept(socket, request, settings, reliable, handler as WsHandler<object>)) as never
    } as never)

    if (settings.infoRoute) registerInfoRoute(this, url, settings, reliable !== undefined)
    return this
  } as WsRouteMethod
}

/** The route's `messages` option, checked: a schema that is not a Standard Schema fails at `wsRoute()`. */
function checkMessages (messages: unknown): ResolvedMessages {
  const options = checkObject('messages', messages)
  checkKnownKeys('messages', options, ['fromClient', 'fromServer', 'requests', 'codec'])
  if (options.requests !== undefined) {
    const requests = checkObject('messages.requests', options.requests)
    checkKnownKeys('messages.requests', requests, ['fromClient', 'fromServer'])
    for (const who of ['fromClient', 'fromServer']) {
      if (requests[who] !== undefined) checkKnownKeys(`messages.requests.${who}`, checkObject(`messages.requests.${who}`, requests[who]), ['request', 'response'])
    }
  }
  const resolved = resolveMessages(options as MessageSchemas, 'messages')
  if ('bad' in resolved) invalidOption(resolved.bad, resolved.expected, resolved.value)
  return resolved
}

/**
 * `GET <url>/info` in its own encapsulated context with @fastify/cors driven by the same origin
 * policy, so CORS headers never reach the application's other routes.
 */
function registerInfoRoute (fastify: FastifyInstance, url: string, settings: ResolvedRouteSettings, reliable: boolean): void {
  const info = {
    name: 'fastify-reliable-ws',
    protocol: reliable ? SUBPROTOCOL : null,
    protocolVersion: reliable ? PROTOCOL_VERSION : null,
    heartbeat: settings.heartbeat === false
      ? null
      : { pingInterval: settings.heartbeat.pingInterval, pongTimeout: settings.heartbeat.pongTimeout },
    idleTimeout: settings.idleTimeout
  }
  fastify.register(async function infoRoute (child) {
    await child.register(fastifyCors, {
      delegator (request, callback) {
        checkOrigin(settings.originPredicate, false, request as FastifyRequest).then(
          (verdict) => callback(null, { origin: verdict === 'allowed' ? request.headers.origin : false, methods: ['GET', 'HEAD'] }),
          (error: Error) => callback(error)
        )
      }
    })
    child.get('/info', async () => info)
  }, { prefix: url.replace(/\/$/, '') })
}
