/**
 * The client's side of typed messages (the `messages` option; README, "Typed messages"): what
 * goes out is validated and encoded, what comes in decoded and validated. Without `messages`,
 * payloads pass as they are. Plain functions rather than a class: the browser bundle is small.
 */
import type { InvalidMessage } from '../messages/types.js'
import { decodeIncoming, describeProblem, encodeOutgoing, type Checked, type Problem, type ResolvedMessages } from '../messages/validate.js'
import type { Payload } from '../protocol/frames.js'
import { ClientErrorCode, ReliableClientError } from './client-errors.js'
import { checkOutgoing } from './outgoing-data.js'
import { toAnswer, type Answer } from './request-answerer.js'

/** Which schema of {@link ResolvedMessages} applies. */
export type SchemaName = Exclude<keyof ResolvedMessages, 'codec'>

/** An `FRWS_ERR_CLIENT_INVALID_MESSAGE` error naming the first failing path. */
export function invalidMessage (direction: 'incoming' | 'outgoing', problem: Problem): ReliableClientError {
  return new ReliableClientError(ClientErrorCode.INVALID_MESSAGE, `Invalid ${direction} message ${describeProblem(problem)}`)
}

/** The payload of a `send()` or `request()`, or the error to reject it with. */
export function outgoingPayload (
  messages: ResolvedMessages | undefined, method: string, schema: SchemaName, data: unknown, timeout: number | undefined
): Payload | ReliableClientError {
  if (messages === undefined) return checkOutgoing(method, data, timeout)
  const encoded = encodeOutgoing(messages.codec, messages[schema], data)
  return encoded.ok ? checkOutgoing(method, encoded.value, timeout) : invalidMessage('outgoing', encoded.problem)
}

/** A received payload, decoded and validated; an invalid one goes to `report` (the `invalid` event). */
export function incomingPayload (
  messages: ResolvedMessages | undefined, kind: InvalidMessage['kind'], schema: SchemaName, payload: Payload,
  report: (info: InvalidMessage) => void
): Checked<unknown> {
  if (messages === undefined) return { ok: true, value: payload }
  const checked = decodeIncoming(messages.codec, messages[schema], payload)
  if (!checked.ok) report({ kind, ...checked.problem })
  return checked
}

/** An `onRequest` answer; when it fails its schema, a generic reason goes out and `report` gets the error (the application's bug). */
export function answerPayload (messages: ResolvedMessages | undefined, value: unknown, report: (error: ReliableClientError) => void): Answer {
  if (messages === undefined) return toAnswer(value)
  const encoded = encodeOutgoing(messages.codec, messages.serverResponse, value)
  if (encoded.ok) return { ok: true, payload: encoded.value }
  report(invalidMessage('outgoing', encoded.problem))
  return { ok: false, reason: 'invalid response' }
}
