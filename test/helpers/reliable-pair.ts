/**
 * End-to-end scenes of reliable mode: real Fastify apps with a reliable route, real fault proxies (`lib/testing`)
 * and real `ReliableClient`s on `ws`'s WebSocket, all on 127.0.0.1, closed in the right order.
 */
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import WebSocket from 'ws'
import { ReliableClient } from '../../lib/client/index.js'
import type { ClientEvents, ReliableClientOptions } from '../../lib/client/index.js'
import type { FastifyReliableWsOptions, ReliableConnection, ReliableOptions, WsRouteOptions } from '../../lib/index.js'
import { buildApp, cleanup } from './server.js'
import { createFaultProxy } from '../../lib/testing/index.js'
import type { FaultProxy } from '../../lib/testing/index.js'

/** Route heartbeat for e2e tests: a blackholed connection is found dead in about 200 ms (both ends). */
export const FAST_HEARTBEAT = { pingInterval: 100, pongTimeout: 100 }

/** Client timings for e2e tests: quick reconnects, and a connection attempt into a dead network gives up after 500 ms. */
export const FAST_CLIENT = { baseDelay: 20, maxDelay: 200, handshakeTimeout: 500 }

/** Path of the reliable route every scene app serves. */
export const RELIABLE_PATH = '/r'

/** Options of {@link Scene.server}. */
export interface SceneServerOptions {
  /** Plugin options. @default {} */
  plugin?: FastifyReliableWsOptions
  /** Route options besides `reliable` (heartbeat, handshakeTimeout, ...). @default {} */
  route?: Omit<WsRouteOptions, 'reliable'>
  /** The route's reliable settings. @default {} (every default) */
  reliable?: ReliableOptions
  /** Port to listen on (to restart a server where a proxy points). @default 0 (a free port) */
  port?: number
  /** Fastify's own options. @default { logger: false } */
  fastify?: FastifyServerOptions
  /** The route handler; runs once per session. */
  handler: (connection: ReliableConnection) => void
}

/** A listening app with one reliable route at {@link RELIABLE_PATH}. */
export interface SceneServer {
  app: FastifyInstance
  port: number
  /** `ws://127.0.0.1:<port>/r`, straight to the app. */
  url: string
}

/** One line per client event, for failure messages. */
export type EventLog = string[]

function describeEvent (event: string, payload: unknown): string {
  if (payload instanceof Error) return `${event} ${codeOf(payload) ?? ''} ${payload.message}`
  return `${event} ${JSON.stringify(payload, (key, value: unknown) => key === 'error' && value instanceof Error ? value.message : value)}`
}

const LOGGED_EVENTS = ['open', 'resumed', 'continuityLost', 'reconnecting', 'close', 'error', 'end'] as const

/**
 * Owns the apps, proxies and clients of one test and closes them in an order that cannot hang:
 * clients first (without waiting: a blackholed socket would wait for its close handshake), then
 * the proxies (which ends those sockets), then the apps.
 */
export class Scene {
  private readonly apps: FastifyInstance[] = []
  private readonly proxies: FaultProxy[] = []
  private readonly clients: ReliableClient[] = []
  private readonly stoppers: Array<() => void> = []

  /** Start an app with a reliable route and listen on 127.0.0.1. */
  async server (options: SceneServerOptions): Promise<SceneServer> {
    const app = await buildApp(options.plugin ?? {}, (instance) => {
      instance.wsRoute(RELIABLE_PATH, { ...options.route, reliable: options.reliable ?? {} }, options.handler)
    }, options.fastify)
    this.apps.push(app)
    await app.listen({ host: '127.0.0.1', port: options.port ?? 0 })
    const address = app.server.address()
    if (address === null || typeof address === 'string') throw new Error('the app has no TCP address')
    return { app, port: address.port, url: `ws://127.0.0.1:${address.port}${RELIABLE_PATH}` }
  }

  /** Start a fault proxy to `targetPort`; returns it with the route's URL through it. */
  async proxy (targetPort: number): Promise<{ proxy: FaultProxy, url: string }> {
    const proxy = await createFaultProxy({ target: targetPort })
    this.proxies.push(proxy)
    return { proxy, url: `${proxy.url}${RELIABLE_PATH}` }
  }

  /**
   * A client on `ws`'s WebSocket, with fast reconnects unless `options` say otherwise, and a log
   * of its events (messages excepted) for failure messages.
   */
  client (url: string, options: Omit<ReliableClientOptions, 'WebSocket'> = {}): { client: ReliableClient, log: EventLog } {
    const client = new ReliableClient(url, { WebSocket, baseDelay: 20, maxDelay: 200, ...options })
    this.clients.push(client)
    const log: EventLog = []
    for (const event of LOGGED_EVENTS) {
      client.on(event, (payload: unknown) => { log.push(describeEvent(event, payload)) })
    }
    return { client, log }
  }

  /** Run `stop` first when the scene closes (e.g. a chaos timer). */
  onClose (stop: () => void): void {
    this.stoppers.push(stop)
  }

  /** Close an app early (it is not closed again). */
  async closeApp (app: FastifyInstance): Promise<void> {
    this.apps.splice(this.apps.indexOf(app), 1)
    await cleanup(app)
  }

  /** Close everything; use in `t.after`. */
  async close (): Promise<void> {
    for (const stop of this.stoppers.splice(0)) stop()
    const closing = this.clients.splice(0).map((client) => client.close())
    await Promise.all(this.proxies.splice(0).map((proxy) => proxy.close()))
    await Promise.all(closing)
    await Promise.all(this.apps.splice(0).map((app) => cleanup(app)))
  }
}

/** Resolves with the next `event` of `client`; rejects after `ms` naming it. */
export function nextClientEvent<K extends keyof ClientEvents> (
  client: ReliableClient, event: K, ms = 5000
): Promise<ClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new Error(`timed out after ${ms} ms waiting for the client's ${event} event`))
    }, ms)
    const off = client.once(event, (...args) => {
      clearTimeout(timer)
      resolve(args)
    })
  })
}

/** How a promise settled, observed without awaiting it. */
export interface Settlement {
  state: 'pending' | 'resolved' | 'rejected'
  error?: unknown
}

/** Watch `promise` settle. */
export function watch (promise: Promise<unknown>): Settlement {
  const settlement: Settlement = { state: 'pending' }
  promise.then(
    () => { settlement.state = 'resolved' },
    (error: unknown) => {
      settlement.state = 'rejected'
      settlement.error = error
    }
  )
  return settlement
}

/** The `code` of an error, or `undefined`. */
export function codeOf (error: unknown): string | undefined {
  return (error as { code?: string } | undefined)?.code
}

/**
 * A PRNG (mulberry32): the same seed gives the same sequence of numbers in `[0, 1)`, so a chaos
 * run's choices can be replayed.
 */
export function seededRandom (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6D2B79F5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
