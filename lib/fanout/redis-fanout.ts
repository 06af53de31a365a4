import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import type { Fanout, FanoutBroadcast, FanoutMessage } from './fanout.js'

/** Options of {@link RedisFanout}. */
export interface RedisFanoutOptions {
  /** An ioredis client (`Redis` or `Cluster`) to publish on; a duplicate of it subscribes. Owned by the caller. */
  redis: Redis | Cluster
  /**
   * The pub/sub channel every node of the application uses.
   * @default 'frws:fanout'
   */
  channel?: string
  /**
   * Called when a publish fails or a message cannot be decoded.
   * @default the plugin's logger (warn, `fan-out failed`)
   */
  onError?: (error: Error) => void
}

// Wire format: 4-byte length of a JSON header, the header, then the payload bytes.
interface Header {
  node: string
  kind: FanoutMessage['kind']
  room?: string
  binary?: boolean
  encoded?: boolean
  sessionId?: string
  previousOwner?: string
}

function encode (node: string, message: FanoutMessage): Buffer {
  const header: Header = { node, kind: message.kind }
  let body: Buffer = Buffer.alloc(0)
  if (message.kind === 'broadcast') {
    if (message.room !== undefined) header.room = message.room
    header.binary = typeof message.data !== 'string'
    if (message.encoded === true) header.encoded = true
    body = typeof message.data === 'string' ? Buffer.from(message.data) : Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength)
  } else {
    header.sessionId = message.sessionId
    header.previousOwner = message.previousOwner
  }
  const head = Buffer.from(JSON.stringify(header))
  const length = Buffer.allocUnsafe(4)
  length.writeUInt32BE(head.length)
  return Buffer.concat([length, head, body])
}

function decode (raw: Buffer): { node: string, message: FanoutMessage } {
  const length = raw.readUInt32BE(0)
  const header = JSON.parse(raw.toString('utf8', 4, 4 + length)) as Header
  const body = raw.subarray(4 + length)
  if (header.kind === 'claim') {
    return { node: header.node, message: { kind: 'claim', sessionId: String(header.sessionId), previousOwner: String(header.previousOwner) } }
  }
  const data = header.binary === true ? Buffer.from(body) : body.toString()
  const message: FanoutBroadcast = { kind: 'broadcast', data }
  if (header.room !== undefined) message.room = header.room
  if (header.encoded === true) message.encoded = true
  return { node: header.node, message }
}

/**
 * Fan-out over Redis pub/sub (classic PUBLISH, which Redis Cluster forwards to every shard):
 * `wsConnections.broadcast(data, { room })` on one node reaches the room's members on every node,
 * each once. Messages carry the publishing node's random id, so a node skips its own.
 */
export class RedisFanout implements Fanout {
  readonly #redis: Redis | Cluster
  readonly #channel: string
  #onError: ((error: Error) => void) | undefined
  readonly #node = randomBytes(9).toString('base64url')
  #subscriber: Redis | undefined

  constructor (options: RedisFanoutOptions) {
    const { redis, channel = 'frws:fanout', onError } = options
    if (redis === null || typeof redis !== 'object' || typeof redis.duplicate !== 'function') throw new TypeError('redis must be an ioredis client')
    if (typeof channel !== 'string' || channel === '') throw new TypeError('channel must be a non-empty string')
    this.#redis = redis
    this.#channel = channel
    this.#onError = onError
  }

  /** {@inheritDoc Fanout.start} */
  async start (receive: (message: FanoutMessage) => void, onError: (error: Error) => void): Promise<void> {
    this.#onError ??= onError
    // The union of Redis and Cluster has no common duplicate() signature; both take no argument here.
    const subscriber = (this.#redis as Redis).duplicate()
    this.#subscriber = subscriber
    subscriber.on('error', (error: Error) => this.#reportError(error))
    subscriber.on('messageBuffer', (channel: Buffer, raw: Buffer) => {
      if (channel.toString() !== this.#channel) return
      let decoded
      try {
        decoded = decode(raw)
      } catch (error) {
        this.#reportError(error as Error)
        return
      }
      if (decoded.node !== this.#node) receive(decoded.message)
    })
    await subscriber.subscribe(this.#channel)
  }

  /** {@inheritDoc Fanout.publish} */
  publish (message: FanoutMessage): void {
    this.#redis.publish(this.#channel, encode(this.#node, message)).catch((error: Error) => this.#reportError(error))
  }

  #reportError (error: Error): void {
    this.#onError?.(error)
  }

  /** {@inheritDoc Fanout.close} */
  async close (): Promise<void> {
    const subscriber = this.#subscriber
    this.#subscriber = undefined
    subscriber?.disconnect()
  }
}
