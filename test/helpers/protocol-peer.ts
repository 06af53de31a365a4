import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import WebSocket from 'ws'
import type { CloseInfo, FastifyReliableWsOptions, ReliableConnection, WsMessage, WsRouteOptions } from '../../lib/index.js'
import { encodePing } from '../../lib/protocol/app-ping.js'
import { decodeFrame, encodeAck, encodeData, encodeErrorResponse, encodeRequest, encodeResponse } from '../../lib/protocol/frames.js'
import type { Frame, Payload } from '../../lib/protocol/frames.js'
import { encodeHello } from '../../lib/protocol/handshake.js'
import type { ResumePosition, Welcome } from '../../lib/protocol/handshake.js'
import { PROTOCOL_VERSION, SUBPROTOCOL } from '../../lib/protocol/version.js'
import { buildApp, listen, waitFor, withExpiry } from './server.js'
import type { CloseResult } from './server.js'

/** One message the peer received, decoded with the protocol's own decoder. */
export interface ReceivedFrame {
  /** The message as it arrived: text as a string, binary as a Buffer. */
  raw: string | Buffer
  isBinary: boolean
  /** The decoded frame, or the decoder's error when the server sent something malformed. */
  frame: Frame | Error
}

/**
 * The hello text every test sends, so a protocol change touches this one place. `version` replaces
 * the protocol version (to test refusals); `extra` adds raw JSON fields.
 */
export function helloFrame (options: { resume?: ResumePosition, version?: number, extra?: Record<string, unknown> } = {}): string {
  const { resume, version = PROTOCOL_VERSION, extra } = options
  if (extra === undefined) return encodeHello(resume === undefined ? { version } : { version, resume })
  return 'H' + JSON.stringify({ version, ...(resume === undefined ? {} : { resume }), ...extra })
}

/** The resume position a client holds after `welcome`: its id, epoch and (current) resume token. */
export function resumeOf (welcome: Welcome, delivered = 0): ResumePosition {
  return { sessionId: welcome.sessionId, epoch: welcome.epoch, delivered, token: welcome.resumeToken }
}

/** Options of {@link openPeer}. */
export interface PeerOptions {
  /** Subprotocols offered. @default [SUBPROTOCOL] (`frws.v2`) */
  protocols?: string[]
  /** Extra headers of the upgrade request (e.g. an identity the route's `principal` reads). */
  headers?: Record<string, string>
}

/** A `ws` client that speaks the reliable protocol by hand: every frame is built and read explicitly. */
export interface ProtocolPeer {
  socket: WebSocket
  /** Every message received so far, in arrival order (also those already taken from the queue). */
  readonly received: readonly ReceivedFrame[]
  /**
   * Send the hello (with `resume` when given, see {@link resumeOf}) and wait for the welcome, which
   * must be the first frame. @default version PROTOCOL_VERSION
   */
  handshake (resume?: ResumePosition, version?: number): Promise<Welcome>
  /** Take the next received message from the queue. */
  next (ms?: number): Promise<ReceivedFrame>
  /** Take the first queued message whose decoded type is `type`, leaving the others queued. */
  nextOfType (type: Frame['type'], ms?: number): Promise<ReceivedFrame & { frame: Frame }>
  /** Messages still queued (received and not taken). */
  pending (): ReceivedFrame[]
  /** `D<seq>:<payload>`: text payloads go out as text messages, bytes as binary messages. */
  sendData (seq: number, payload: Payload): void
  /** `Q<seq>:<payload>`. */
  sendRequest (seq: number, payload: Payload): void
  /** `R<seq>,<ref>:<payload>`. */
  sendResponse (seq: number, ref: number, payload: Payload): void
  /** `E<seq>,<ref>:<reason>`. */
  sendErrorResponse (seq: number, ref: number, reason: string): void
  /** `A<seq>`. */
  sendAck (seq: number): void
  /** `frws:ping[:token]`. */
  sendPing (token?: string): void
  /** Any message, as is (text unless `binary`). */
  sendRaw (data: string | Buffer, binary?: boolean): void
  /** Resolves with the close event; rejects after `ms`. */
  closed (ms?: number): Promise<CloseResult>
  /** Drop the TCP connection without a close frame (the server sees 1006). */
  terminate (): void
}

/** Open a WebSocket to `url` offering `frws.v2` and record every message from the first byte on. */
export function openPeer (url: string, options: PeerOptions = {}): Promise<ProtocolPeer> {
  const socket = new WebSocket(url, options.protocols ?? [SUBPROTOCOL], { headers: options.headers })
  const received: ReceivedFrame[] = []
  const queue: ReceivedFrame[] = []
  const waiters: Array<() => void> = []
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    const raw = isBinary ? data : data.toString()
    let frame: Frame | Error
    try {
      frame = decodeFrame(raw, { sender: 'server' })
    } catch (error) {
      frame = error as Error
    }
    const entry = { raw, isBinary, frame }
    received.push(entry)
    queue.push(entry)
    for (const wake of waiters.splice(0)) wake()
  })
  const closedPromise = new Promise<CloseResult>((resolve) => {
    socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))
  })

  const take = (predicate: (entry: ReceivedFrame) => boolean, ms: number, what: string): Promise<ReceivedFrame> =>
    withExpiry((async () => {
      for (;;) {
        const index = queue.findIndex(predicate)
        if (index !== -1) return queue.splice(index, 1)[0]
        await new Promise<void>((resolve) => waiters.push(resolve))
      }
    })(), ms, what)

  const send = (frame: Payload, binary = typeof frame !== 'string'): void => {
    socket.send(frame, { binary })
  }

  const peer: ProtocolPeer = {
    socket,
    received,
    async handshake (resume, version = PROTOCOL_VERSION) {
      socket.send(helloFrame({ resume, version }))
      const first = await take(() => true, 2000, 'the welcome')
      if (first.frame instanceof Error || first.frame.type !== 'W') {
        throw new Error(`expected a welcome, got ${String(first.raw)}`)
      }
      const { type: _type, ...welcome } = first.frame
      return welcome
    },
    next (ms = 2000) {
      return take(() => true, ms, 'a frame')
    },
    async nextOfType (type, ms = 2000) {
      const entry = await take((e) => !(e.frame instanceof Error) && e.frame.type === type, ms, `a ${type} frame`)
      return entry as ReceivedFrame & { frame: Frame }
    },
    pending () {
      return [...queue]
    },
    sendData (seq, payload) { send(encodeData(seq, payload)) },
    sendRequest (seq, payload) { send(encodeRequest(seq, payload)) },
    sendResponse (seq, ref, payload) { send(encodeResponse(seq, ref, payload)) },
    sendErrorResponse (seq, ref, reason) { send(encodeErrorResponse(seq, ref, reason)) },
    sendAck (seq) { send(encodeAck(seq)) },
    sendPing (token = '') { send(encodePing(token)) },
    sendRaw (data, binary = false) { send(data, binary) },
    closed (ms = 2000) {
      return withExpiry(closedPromise, ms, 'the close event')
    },
    terminate () {
      socket.terminate()
    }
  }
  return withExpiry(new Promise<ProtocolPeer>((resolve, reject) => {
    socket.once('open', () => resolve(peer))
    socket.once('unexpected-response', (_request, response) => {
      reject(new Error(`HTTP ${response.statusCode}`))
      socket.terminate()
    })
    socket.once('error', reject)
  }), 5000, `the upgrade of ${url}`)
}

/** The payload of a received sequenced frame, or a failure naming what arrived instead. */
export function payloadOf (entry: ReceivedFrame): string | Buffer {
  const frame = entry.frame
  if (frame instanceof Error || !('payload' in frame)) throw new Error(`not a sequenced frame: ${String(entry.raw)}`)
  return typeof frame.payload === 'string' ? frame.payload : Buffer.from(frame.payload)
}

/** What the recording handler of {@link startReliable} saw on the server. */
export interface ServerSide {
  app: FastifyInstance
  /** ws:// URL of the route. */
  url: string
  /** Every connection the handler ran for, in order (a same-node resume adds none). */
  connections: ReliableConnection[]
  /** Every message delivered to the handler, across connections. */
  messages: Array<{ data: WsMessage, isBinary: boolean }>
  /** Events of every connection, in order: `suspend:<code>`, `resume`, `close:<cause>`. */
  events: string[]
  /** The `close` events. */
  closes: CloseInfo[]
  /** Open a peer to this route; {@link ServerSide.stop} terminates it. */
  peer (options?: PeerOptions): Promise<ProtocolPeer>
  /**
   * Terminate the peers opened with {@link ServerSide.peer}, then close the app. Server-side
   * sockets left paused (never read again, so their close handshake could only end by ws's 30 s
   * timer) are destroyed first so a failing test cannot hold the run.
   */
  stop (): Promise<void>
}

/**
 * A listening app with one reliable route whose handler records what it sees; `setup` runs for
 * each connection after the recorders are attached (to add request listeners and the like).
 */
export async function startReliable (
  routeOptions: WsRouteOptions = { reliable: true },
  pluginOptions: FastifyReliableWsOptions = {},
  setup?: (connection: ReliableConnection, request: FastifyRequest) => void | Promise<void>
): Promise<ServerSide> {
  const side: Pick<ServerSide, 'connections' | 'messages' | 'events' | 'closes'> = { connections: [], messages: [], events: [], closes: [] }
  const app = await buildApp(pluginOptions, (app) => {
    app.wsRoute('/r', routeOptions, (connection, request) => {
      const reliable = connection as ReliableConnection
      side.connections.push(reliable)
      reliable.on('message', (data, isBinary) => side.messages.push({ data, isBinary }))
      reliable.on('suspend', (info) => side.events.push(`suspend:${info.code}`))
      reliable.on('resume', () => side.events.push('resume'))
      reliable.on('close', (info) => { side.events.push(`close:${info.cause}`); side.closes.push(info) })
      return setup?.(reliable, request)
    })
  })
  const sockets = new Set<Socket>()
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  const url = `${await listen(app)}/r`
  const peers: ProtocolPeer[] = []
  return {
    app,
    url,
    ...side,
    async peer (options) {
      const peer = await openPeer(url, options)
      peers.push(peer)
      return peer
    },
    async stop () {
      for (const peer of peers) peer.terminate()
      for (const socket of sockets) if (socket.isPaused()) socket.destroy()
      // A socket still closing when the shutdown begins keeps fastify.close() waiting for closeTimeout
      // (a bug pinned by its own test); let such closes finish first.
      await waitFor(() => side.connections.every((c) => c.socket.readyState !== WebSocket.CLOSING), 'closing sockets', 1000).catch(() => {})
      await app.close()
    }
  }
}
