import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import fastifyReliableWs from '../../lib/index.js'
import type { FastifyReliableWsOptions } from '../../lib/index.js'

/** A Fastify app with the plugin registered, not yet listening. */
export async function buildApp (
  options: FastifyReliableWsOptions = {},
  setup?: (app: FastifyInstance) => void | Promise<void>
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
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

/** Open a `ws` client and wait for the open event (rejects on an HTTP error status). */
export function connect (url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options)
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
