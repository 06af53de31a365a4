import { WebSocketServer, type WebSocket } from 'ws'
import { PROTOCOL_VERSION, selectSubprotocol } from '../../lib/protocol/version.js'
import { decodeFrame, type DataFrame, type Frame, type Payload } from '../../lib/protocol/frames.js'
import { encodeWelcome, type Welcome } from '../../lib/protocol/handshake.js'
import { ReliableClient, type ReliableClientOptions } from '../../lib/client/index.js'
import type { ClientEvents } from '../../lib/client/client-events.js'
import WebSocketImpl from 'ws'

/** Reject after `ms` with a message naming what was awaited. */
function expire<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expiry = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer))
}

/** A FIFO whose `next()` waits for the next item. */
class Inbox<T> {
  private readonly items: T[] = []
  private readonly waiters: Array<(item: T) => void> = []

  push (item: T): void {
    const waiter = this.waiters.shift()
    if (waiter !== undefined) waiter(item)
    else this.items.push(item)
  }

  next (ms: number, what: string): Promise<T> {
    const item = this.items.shift()
    if (item !== undefined) return Promise.resolve(item)
    return expire(new Promise<T>((resolve) => this.waiters.push(resolve)), ms, what)
  }

  get size (): number {
    return this.items.length
  }
}

/** The welcome fields a test usually leaves alone; every scripted welcome starts from these. */
export const WELCOME_DEFAULTS: Welcome = {
  version: PROTOCOL_VERSION,
  sessionId: 'session-1',
  epoch: 'epoch-1',
  resumeToken: 'resume-token-of-session-1',
  resumed: false,
  delivered: 0,
  pingInterval: 0,
  pongTimeout: 0,
  ackInterval: 20,
  ackEvery: 64,
  maxPayload: 1024 * 1024,
  maxUnacked: 4096,
  maxUnackedBytes: 1024 * 1024,
  sessionTimeout: 120_000
}

/** One connection accepted by the {@link ScriptedPeer}: the test speaks the protocol by hand. */
export class PeerConnection {
  readonly socket: WebSocket
  /** The subprotocol the peer selected (`''` when none). */
  readonly protocol: string
  /** Settles with the close code and reason when the socket closes. */
  readonly closed: Promise<{ code: number, reason: string }>
  private readonly inbox = new Inbox<Payload>()

  constructor (socket: WebSocket) {
    this.socket = socket
    this.protocol = socket.protocol
    socket.on('message', (data: Buffer, isBinary) => {
      this.inbox.push(isBinary ? new Uint8Array(data) : data.toString())
    })
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    })
  }

  /** The next raw frame from the client. */
  nextRaw (ms = 3000): Promise<Payload> {
    return this.inbox.next(ms, 'a frame from the client')
  }

  /** The next frame from the client, decoded. */
  async next (ms = 3000): Promise<Frame> {
    return decodeFrame(await this.nextRaw(ms), { sender: 'client' })
  }

  /** The next sequenced frame, skipping acks (they are coalesced, so tests rarely know where they fall). */
  async nextNonAck (ms = 3000): Promise<DataFrame> {
    for (;;) {
      const frame = await this.next(ms)
      if (frame.type === 'A') continue
      if (frame.type === 'D' || frame.type === 'Q' || frame.type === 'R' || frame.type === 'E') return frame
      throw new Error(`expected a sequenced frame, got ${frame.type}`)
    }
  }

  /** Number of frames received and not read yet. */
  get unread (): number {
    return this.inbox.size
  }

  /** Read the hello and answer with a welcome built from {@link WELCOME_DEFAULTS} and `fields`. */
  async handshake (fields: Partial<Welcome> = {}): Promise<Frame & { type: 'H' }> {
    const hello = await this.next()
    if (hello.type !== 'H') throw new Error(`expected a hello, got ${hello.type}`)
    this.welcome(fields)
    return hello
  }

  /** Send a welcome built from {@link WELCOME_DEFAULTS} and `fields`. */
  welcome (fields: Partial<Welcome> = {}): void {
    this.send(encodeWelcome({ ...WELCOME_DEFAULTS, ...fields }))
  }

  /** Send a raw frame (a string goes as text, bytes as binary). */
  send (frame: Payload): void {
    this.socket.send(frame, { binary: typeof frame !== 'string' })
  }

  /** Drop the TCP connection without a close frame. */
  terminate (): void {
    this.socket.terminate()
  }
}

/** A `ws` server on 127.0.0.1 that hands each connection to the test, which speaks the protocol by hand. */
export class ScriptedPeer {
  readonly server: WebSocketServer
  readonly url: string
  /** Every connection accepted so far, in order. */
  readonly connections: PeerConnection[] = []
  private readonly inbox = new Inbox<PeerConnection>()

  private constructor (server: WebSocketServer, url: string) {
    this.server = server
    this.url = url
    server.on('connection', (socket) => {
      const connection = new PeerConnection(socket)
      this.connections.push(connection)
      this.inbox.push(connection)
    })
  }

  /** Start a peer on a free port. */
  static async start (): Promise<ScriptedPeer> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (offered) => selectSubprotocol(offered) })
    await new Promise<void>((resolve) => server.once('listening', resolve))
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    return new ScriptedPeer(server, `ws://127.0.0.1:${address.port}/ws`)
  }

  /** The next connection from a client. */
  nextConnection (ms = 3000): Promise<PeerConnection> {
    return this.inbox.next(ms, 'a connection from the client')
  }

  /** Number of connections accepted and not taken with {@link nextConnection}. */
  get pending (): number {
    return this.inbox.size
  }

  /** Drop every connection and stop listening. */
  async close (): Promise<void> {
    for (const client of this.server.clients) client.terminate()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** A client on `ws`'s WebSocket with fast reconnects, unless `options` say otherwise. */
export function startClient (url: string, options: ReliableClientOptions = {}): ReliableClient {
  return new ReliableClient(url, { WebSocket: WebSocketImpl, baseDelay: 10, maxDelay: 50, ...options })
}

/** The arguments of the next `event` of `client`. */
export function nextEvent<K extends keyof ClientEvents> (client: ReliableClient, event: K, ms = 3000): Promise<ClientEvents[K]> {
  return expire(new Promise((resolve) => { client.once(event, (...args) => resolve(args)) }), ms, `client event ${String(event)}`)
}

/** Settles with how `promise` settled, within `ms`. */
export function settle<T> (promise: Promise<T>, ms = 3000): Promise<{ value?: T, error?: unknown }> {
  return expire(promise.then((value) => ({ value }), (error: unknown) => ({ error })), ms, 'a promise to settle')
}

export { expire }
