import assert from 'node:assert/strict'
import type { AssertPredicate } from 'node:assert'
import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import { connect as netConnect } from 'node:net'
import type { Socket } from 'node:net'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import WebSocket from 'ws'
import fastifyReliableWs from '../../lib/index.js'
import type { FastifyReliableWsOptions } from '../../lib/index.js'

/**
 * Plugin options for tests whose many clients all come from 127.0.0.1: no per-address connection
 * limit, no upgrade rate, and no per-address cap on suspended sessions (a test's own options win).
 */
export const SINGLE_ADDRESS_LOAD: FastifyReliableWsOptions = {
  maxConnectionsPerAddress: Infinity,
  upgradeRate: false,
  sessionBudget: { maxSuspendedPerAddress: 1_000_000 }
}

/** A Fastify app with the plugin registered, not yet listening. */
export async function buildApp (
  options: FastifyReliableWsOptions = {},
  setup?: (app: FastifyInstance) => void | Promise<void>,
  serverOptions: FastifyServerOptions = { logger: false }
): Promise<FastifyInstance> {
  const app = Fastify(serverOptions)
  await app.register(fastifyReliableWs, options)
  if (setup !== undefined) await setup(app)
  return app
}

/** An echo route at `path`: text stays text, binary stays binary. */
export function echoRoute (app: FastifyInstance, path = '/ws'): void {
  app.wsRoute(path, (connection) => {
    connection.on('message', (data) => { void connection.send(data) })
  })
}

/** Listen on 127.0.0.1 and a free port; returns the ws:// base URL. */
export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return `ws://127.0.0.1:${address.port}`
}

/** The http:// base URL of a listening app. */
export function httpUrl (app: FastifyInstance): string {
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}`
}

/** How to drop each client socket still open, so a failing test cannot leave its app's close waiting. */
const openSockets = new Set<() => void>()

function track (socket: WebSocket | Socket): void {
  const drop = (): void => { if (socket instanceof WebSocket) socket.terminate(); else socket.destroy() }
  openSockets.add(drop)
  socket.once('close', () => openSockets.delete(drop))
}

/** Drop every client socket the helpers opened that is still open, then close the app. Use in `t.after`. */
export async function cleanup (app: FastifyInstance): Promise<void> {
  for (const drop of [...openSockets]) drop()
  await app.close()
}

/** Open a `ws` client and wait for the open event (rejects on an HTTP error status). */
export function connect (url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options)
    track(socket)
    socket.once('open', () => resolve(socket))
    socket.once('unexpected-response', (_request, response) => {
      reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { statusCode: response.statusCode }))
      socket.terminate()
    })
    socket.once('error', reject)
  })
}

/** Reject after `ms` with a message naming what was awaited. */
export function withExpiry<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expiry = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer))
}

/**
 * Milliseconds until `promise` rejects as `expected` says (as in `assert.rejects`); fails after
 * `ms`, so a timeout that is far too long fails in `ms`, not at the suite's timeout.
 */
export async function rejectionDelay (promise: Promise<unknown>, expected: AssertPredicate, ms: number): Promise<number> {
  const started = Date.now()
  await withExpiry(assert.rejects(promise, expected), ms, 'the rejection')
  return Date.now() - started
}

/** The next message on a client socket, as text or bytes. */
export function nextMessage (socket: WebSocket, ms = 2000): Promise<{ data: string | Buffer, isBinary: boolean }> {
  return withExpiry(new Promise((resolve) => {
    socket.once('message', (data: Buffer, isBinary: boolean) => resolve({ data: isBinary ? data : data.toString(), isBinary }))
  }), ms, 'a message')
}

/** The close event of a client socket. */
export function closed (socket: WebSocket, ms = 2000): Promise<{ code: number, reason: string }> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve({ code: 1006, reason: '' })
  return withExpiry(new Promise((resolve) => {
    socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))
  }), ms, 'the close event')
}

/** Resolve after `ms`. */
export function delay (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Poll `predicate` every few ms until it holds; rejects after `ms` naming `what`. */
export async function waitFor (predicate: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await delay(5)
  }
}

/** {@link waitFor} for a predicate that must await (a session store read): stops polling at the deadline. */
export async function waitForAsync (predicate: () => Promise<boolean>, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await delay(5)
  }
}

/** What a client socket saw when it closed. */
export interface CloseResult {
  code: number
  reason: string
}

/**
 * A `ws` client whose messages and close event are recorded from the moment it is created,
 * so nothing the server sends right after the handshake can be missed.
 */
export interface TestClient {
  socket: WebSocket
  /** Every message received so far, text as strings, binary as Buffers. */
  readonly messages: Array<string | Buffer>
  /** The next message not yet returned by `next()` (in arrival order). */
  next (ms?: number): Promise<string | Buffer>
  /** Resolves with the close event (never rejects; wrap it in `withExpiry`). */
  readonly closed: Promise<CloseResult>
}

/** Open a recording client and wait for the open event (rejects with `statusCode` on an HTTP refusal). */
export function openClient (url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
  const socket = new WebSocket(url, options)
  track(socket)
  const messages: Array<string | Buffer> = []
  const waiters: Array<() => void> = []
  let read = 0
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    messages.push(isBinary ? data : data.toString())
    for (const wake of waiters.splice(0)) wake()
  })
  const closedPromise = new Promise<CloseResult>((resolve) => {
    socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))
  })
  const client: TestClient = {
    socket,
    messages,
    closed: closedPromise,
    next (ms = 2000) {
      return withExpiry((async () => {
        while (read >= messages.length) await new Promise<void>((resolve) => waiters.push(resolve))
        return messages[read++]
      })(), ms, 'a message')
    }
  }
  return withExpiry(new Promise<TestClient>((resolve, reject) => {
    socket.once('open', () => resolve(client))
    socket.once('unexpected-response', (_request, response) => {
      reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { statusCode: response.statusCode }))
      socket.terminate()
    })
    socket.once('error', reject)
  }), 5000, `the upgrade of ${url}`)
}

/**
 * Try an upgrade that should be refused: resolves with the HTTP status the server answered
 * with, or 0 when the server dropped the connection without a response. Fails if it opens.
 */
export async function refusedStatus (url: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  let client: TestClient
  try {
    client = await openClient(url, options)
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode
    return status ?? 0
  }
  client.socket.terminate()
  throw new Error(`the upgrade of ${url} was accepted (101), expected a refusal`)
}

/** A hand-rolled client: the HTTP upgrade done by hand over node:net. */
export interface RawUpgrade {
  socket: Socket
  /** The HTTP status of the response (101 when upgraded), or 0 when the server closed without one. */
  status: number
  /** The response head (status line and headers). */
  head: string
}

/**
 * Perform a WebSocket upgrade over a plain TCP socket and then ignore every byte the server
 * sends: the peer never answers a close frame, never pongs. Resolves once the response head
 * arrived (or the server closed the socket). The caller destroys `socket`.
 */
export function rawUpgrade (url: string, headers: Record<string, string> = {}, ms = 5000): Promise<RawUpgrade> {
  const { hostname, port, pathname, search } = new URL(url)
  const socket = netConnect({ host: hostname, port: Number(port) })
  track(socket)
  socket.on('error', () => {})
  const lines = [
    `GET ${pathname}${search} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
  ]
  socket.write(lines.join('\r\n') + '\r\n\r\n')
  return withExpiry(new Promise<RawUpgrade>((resolve) => {
    let received = ''
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1')
      const end = received.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onData)
      socket.off('close', onClose)
      // Keep reading (and discarding) so the server never sees backpressure, only silence.
      socket.on('data', () => {})
      const head = received.slice(0, end)
      resolve({ socket, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head })
    }
    const onClose = (): void => resolve({ socket, status: 0, head: received })
    socket.on('data', onData)
    socket.once('close', onClose)
  }), ms, `the raw upgrade response of ${url}`)
}

/** An HTTP response as the tests need it. */
export interface HttpResult {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/** One HTTP request over a real socket (node:http, no agent so no keep-alive lingers). */
export function httpCall (
  url: string, options: { method?: string, headers?: Record<string, string> } = {}
): Promise<HttpResult> {
  return withExpiry(new Promise<HttpResult>((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  }), 5000, `the response of ${url}`)
}

/** One line of pino's JSON output. */
export interface LogLine {
  level: number
  msg?: string
  reqId?: string
  [field: string]: unknown
}

/** Pino levels by name. */
export const LogLevel = { debug: 20, info: 30, warn: 40, error: 50 } as const

/** A writable stream for `Fastify({ logger: { stream } })` that keeps every parsed log line. */
export function captureLogs (): { stream: Writable, lines: LogLine[] } {
  const lines: LogLine[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString().split('\n')) {
        if (text.trim() !== '') lines.push(JSON.parse(text) as LogLine)
      }
      callback()
    }
  })
  return { stream, lines }
}
