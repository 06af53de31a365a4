/**
 * The two steps almost every test of a WebSocket app starts with: an app with the plugin that
 * listens on a free port, and a `ReliableClient` on Node's `ws` connected to it.
 */
import Fastify from 'fastify'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import WebSocket from 'ws'
import { ReliableClient } from '../client/index.js'
import type { ReliableClientOptions, WebSocketConstructor } from '../client/index.js'
import fastifyReliableWs from '../index.js'
import type { FastifyReliableWsOptions } from '../index.js'

/** Options of {@link startApp}. */
export interface StartAppOptions {
  /** Options of the plugin. @default {} */
  plugin?: FastifyReliableWsOptions
  /** Options of Fastify itself. @default { logger: false } */
  fastify?: FastifyServerOptions
  /** Address to listen on. @default '127.0.0.1' */
  host?: string
  /** Port to listen on (a fixed one lets a restarted app come back where clients point); 0 picks a free one. @default 0 */
  port?: number
}

/** A listening app; see {@link startApp}. */
export interface StartedApp {
  /** The Fastify instance, ready and listening. */
  app: FastifyInstance
  /** The port it listens on. */
  port: number
  /** Its base URL, `ws://<host>:<port>`: append the route's path. */
  url: string
  /** Close the app (its connections get 1001). Close the clients first, or they will try to reconnect. */
  close (): Promise<void>
}

/**
 * Create a Fastify app, register the plugin, let `setup` add routes (and anything else; it may
 * be async, its result is awaited), then listen on `host` and a free port.
 *
 * @example
 * const server = await startApp((app) => {
 *   app.wsRoute('/chat', { reliable: {} }, (connection) => { ... })
 * })
 * // server.url is 'ws://127.0.0.1:<port>'
 */
export async function startApp (
  setup: (app: FastifyInstance) => unknown,
  options: StartAppOptions = {}
): Promise<StartedApp> {
  const host = options.host ?? '127.0.0.1'
  const app = Fastify(options.fastify ?? { logger: false })
  try {
    await app.register(fastifyReliableWs, options.plugin ?? {})
    await setup(app)
    await app.listen({ host, port: options.port ?? 0 })
  } catch (error) {
    await app.close()
    throw error
  }
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('startApp: the app has no TCP address')
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return { app, port: address.port, url: `ws://${urlHost}:${address.port}`, close: () => app.close() }
}

/** Options of {@link connectClient}: the client's own options, with defaults suited to tests. */
export interface ConnectClientOptions extends ReliableClientOptions {
  /** The WebSocket constructor. @default WebSocket from the `ws` package */
  WebSocket?: WebSocketConstructor
  /** Ceiling of the first reconnect delay, in ms; short so tests reconnect quickly. @default 20 */
  baseDelay?: number
  /** Cap of every reconnect delay, in ms. @default 500 */
  maxDelay?: number
  /** Time to wait for the first session, in ms; then the client is closed and the promise rejects. @default 5000 */
  openTimeout?: number
}

/**
 * Create a `ReliableClient` for `url` (on `ws` unless `options.WebSocket` says otherwise) and
 * resolve once its first session is established (its `open` event).
 * @throws {Error} when the client gives up (its `end` event) or `openTimeout` passes first; the
 *   client is closed then
 *
 * @example
 * const client = await connectClient(`${server.url}/chat`)
 * await client.send('hello') // resolves on the server's ack
 */
export async function connectClient (url: string | URL, options: ConnectClientOptions = {}): Promise<ReliableClient> {
  const { openTimeout = 5000, ...clientOptions } = options
  const client = new ReliableClient(url, {
    WebSocket,
    baseDelay: 20,
    maxDelay: 500,
    ...clientOptions
  })
  const offs: Array<() => void> = []
  let timer: NodeJS.Timeout | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      offs.push(client.once('open', () => resolve()))
      offs.push(client.once('end', ({ code, reason, error }) => {
        reject(new Error(`connectClient: the client gave up before its first session (${code} ${reason})`, { cause: error }))
      }))
      timer = setTimeout(() => reject(new Error(`connectClient: no session within ${openTimeout} ms`)), openTimeout)
    })
  } catch (error) {
    await client.close()
    throw error
  } finally {
    clearTimeout(timer)
    for (const off of offs) off()
  }
  return client
}
