import type { EventEmitter } from 'node:events'
import type { WsMessage, WsOutgoing } from '../connection-events.js'
import type { StandardSchemaV1 } from '../messages/standard-schema.js'
import type { InvalidMessage } from '../messages/types.js'
import { decodeIncoming, encodeOutgoing } from '../messages/validate.js'
import type { Checked, ResolvedMessages } from '../messages/validate.js'
import type { Payload } from '../protocol/frames.js'
import type { ReliableConnection } from './reliable-connection.js'

/** @internal An outgoing value as the frame encoder takes it (strings as they are, bytes as a Uint8Array). */
export function toPayload (data: WsOutgoing): Payload {
  if (typeof data === 'string' || data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

/** @internal Through the route's schema and codec when it has `messages`; as it is otherwise. */
export function encodePayload (messages: ResolvedMessages | undefined, schema: StandardSchemaV1 | undefined, data: unknown): Checked<Payload> {
  if (messages === undefined) return { ok: true, value: toPayload(data as WsOutgoing) }
  return encodeOutgoing(messages.codec, schema, data)
}

/**
 * @internal Decode and validate a payload `connection` received; an invalid one is logged and
 * reported (`invalid` event), never delivered.
 */
export function decodePayload (
  connection: ReliableConnection<object>, messages: ResolvedMessages | undefined,
  kind: InvalidMessage['kind'], schema: StandardSchemaV1 | undefined, payload: WsMessage
): Checked<unknown> {
  if (messages === undefined) return { ok: true, value: payload }
  const checked = decodeIncoming(messages.codec, schema, payload)
  if (checked.ok) return checked
  const problem = checked.problem
  const fields = { session: connection.sessionTag, kind, path: problem.path }
  if (checked.async === true) connection.log.error(fields, 'reliable websocket schema validated asynchronously; message refused')
  else connection.log.info(fields, 'reliable websocket message failed its schema')
  try {
    (connection as EventEmitter).emit('invalid', { kind, ...problem })
  } catch (error) {
    connection.fail(error)
  }
  return checked
}
