import type { WsConnection, WsOutgoing } from './connection.js'
import { FRWS_ERR_MESSAGE_INVALID } from './errors.js'
import type { MessageSchemas, Sendable } from './messages/types.js'
import { describeProblem, encodeOutgoing, resolveMessages } from './messages/validate.js'
import type { FanoutBroadcast } from './fanout/fanout.js'
import type { Payload } from './protocol/frames.js'

/** Options of `broadcast()`. */
export interface BroadcastOptions {
  /** Only connections in this room. @default every connection */
  room?: string
  /** Skip this connection (usually the sender). */
  except?: WsConnection<object>
}

/**
 * The open connections of this Fastify instance, decorated as `fastify.wsConnections`.
 * A connection is added when its socket opens and removed when it closes, whatever the cause.
 */
export class ConnectionRegistry {
  readonly #connections = new Map<string, WsConnection<object>>()
  readonly #rooms = new Map<string, Set<WsConnection<object>>>()
  #emptyWaiters: Array<() => void> = []
  /** Publishes a broadcast to the other nodes (the `fanout` option); unset on a single node. */
  publish: ((message: FanoutBroadcast) => void) | undefined

  /** Number of open connections. */
  get size (): number {
    return this.#connections.size
  }

  /** The connection with this id, if it is open. */
  get (id: string): WsConnection<object> | undefined {
    return this.#connections.get(id)
  }

  /** Iterate over the open connections. */
  values (): IterableIterator<WsConnection<object>> {
    return this.#connections.values()
  }

  [Symbol.iterator] (): IterableIterator<WsConnection<object>> {
    return this.#connections.values()
  }

  /** The members of a room (empty when nobody is in it). */
  room (name: string): ReadonlySet<WsConnection<object>> {
    return this.#rooms.get(name) ?? EMPTY
  }

  /** Names of the rooms that have members. */
  roomNames (): IterableIterator<string> {
    return this.#rooms.keys()
  }

  /**
   * Send one message to every open connection (and every suspended reliable session), or to a
   * room's members. Each connection gets it once. With the `fanout` option it also reaches the
   * connections (or the room's members) of every other node; `except` applies on this node only.
   * Returns how many connections of THIS node it was sent to.
   *
   * With `messages` (a route's schemas), `data` is typed by `messages.fromServer`, validated and
   * encoded once, and the same payload goes to every target (use a room to reach only that route's
   * connections). An invalid `data` throws `FRWS_ERR_MESSAGE_INVALID` and nothing is sent. Without
   * `messages`, each connection's own `send()` applies, so a typed route validates the value itself.
   */
  broadcast<const M extends MessageSchemas> (data: Sendable<M['fromServer']>, options: BroadcastOptions & { messages: M }): number
  broadcast (data: WsOutgoing, options?: BroadcastOptions): number
  broadcast (data: unknown, options: BroadcastOptions & { messages?: MessageSchemas } = {}): number {
    let payload = data as WsOutgoing
    let encoded = false
    if (options.messages !== undefined) {
      const resolved = resolveMessages(options.messages, 'messages')
      if ('bad' in resolved) throw new FRWS_ERR_MESSAGE_INVALID('outgoing', `: ${resolved.bad} is not ${resolved.expected}`)
      const result = encodeOutgoing(resolved.codec, resolved.fromServer, data)
      if (!result.ok) throw new FRWS_ERR_MESSAGE_INVALID('outgoing', describeProblem(result.problem))
      payload = result.value
      encoded = true
    }
    if (this.publish !== undefined) {
      const message: FanoutBroadcast = { kind: 'broadcast', data: toPayload(payload) }
      if (options.room !== undefined) message.room = options.room
      if (encoded) message.encoded = true
      this.publish(message)
    }
    return this.deliverLocally(payload, options, encoded)
  }

  /**
   * @internal A broadcast of this node or another one (fan-out), to this node's connections;
   * `encoded` when the payload already went through a route's codec (typed broadcast).
   */
  deliverLocally (data: WsOutgoing, options: BroadcastOptions = {}, encoded = false): number {
    const send = encoded
      ? (connection: WsConnection<object>): Promise<void> => connection.sendEncoded(data)
      : (connection: WsConnection<object>): Promise<void> => connection.send(data)
    const targets = options.room === undefined ? this.#connections.values() : this.room(options.room).values()
    let count = 0
    for (const connection of targets) {
      if (connection === options.except || !connection.acceptsMessages) continue
      void send(connection)
      count++
    }
    return count
  }

  /** Close one connection by id. Returns false when no such connection is open. */
  close (id: string, code?: number, reason?: string): boolean {
    const connection = this.#connections.get(id)
    if (connection === undefined) return false
    connection.close(code, reason)
    return true
  }

  /** Resolves once no connection is open. */
  whenEmpty (): Promise<void> {
    if (this.#connections.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#emptyWaiters.push(resolve))
  }

  /** @internal */
  add (connection: WsConnection<object>): void {
    this.#connections.set(connection.id, connection)
  }

  /** @internal Forget a closed connection and its room memberships. */
  remove (connection: WsConnection<object>): void {
    this.#connections.delete(connection.id)
    for (const room of connection.rooms) this.setMembership(connection, room, false)
    if (this.#connections.size === 0 && this.#emptyWaiters.length > 0) {
      const waiters = this.#emptyWaiters
      this.#emptyWaiters = []
      for (const resolve of waiters) resolve()
    }
  }

  /** @internal */
  setMembership (connection: WsConnection<object>, room: string, joined: boolean): void {
    let members = this.#rooms.get(room)
    if (joined) {
      if (members === undefined) this.#rooms.set(room, members = new Set())
      members.add(connection)
    } else if (members !== undefined) {
      members.delete(connection)
      if (members.size === 0) this.#rooms.delete(room)
    }
  }
}

const EMPTY: ReadonlySet<WsConnection<object>> = new Set()

function toPayload (data: WsOutgoing): Payload {
  if (typeof data === 'string' || data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}
