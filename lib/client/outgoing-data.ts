/**
 * Checks of what the application hands to the client.
 */
import { CloseCode } from '../protocol/close-codes.js'
import type { Payload } from '../protocol/frames.js'
import { ClientErrorCode, ReliableClientError } from './client-errors.js'

/** What `send()`, `request()` and a request handler accept: text travels as a text frame, bytes as a binary frame. */
export type OutgoingData = string | Uint8Array | ArrayBuffer

/** Longest delay `setTimeout` honours, in ms; a longer one fires at once. */
export const MAX_TIMER_DELAY = 2_147_483_647

/** The payload for `data`, or `undefined` when it is not {@link OutgoingData}. An ArrayBuffer is viewed, not copied. */
export function toPayload (data: unknown): Payload | undefined {
  if (typeof data === 'string' || data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return undefined
}

/** An `FRWS_ERR_CLIENT_INVALID_ARGUMENT` error. */
export function invalidArgument (message: string): ReliableClientError {
  return new ReliableClientError(ClientErrorCode.INVALID_ARGUMENT, message)
}

/** The error for a `timeout` option that is not `undefined`, `Infinity` or 0 to {@link MAX_TIMER_DELAY} ms. */
export function checkTimeout (timeout: unknown): ReliableClientError | undefined {
  if (timeout === undefined || timeout === Infinity || (typeof timeout === 'number' && timeout >= 0 && timeout <= MAX_TIMER_DELAY)) return undefined
  return invalidArgument(`timeout must be a number of ms from 0 to ${MAX_TIMER_DELAY} or Infinity, received ${String(timeout)}`)
}

/** The payload of a `send()` or `request()`, or the `FRWS_ERR_CLIENT_INVALID_ARGUMENT` error to reject it with. */
export function checkOutgoing (method: string, data: unknown, timeout: unknown): Payload | ReliableClientError {
  const payload = toPayload(data)
  if (payload === undefined) return invalidArgument(`${method}() takes a string, a Uint8Array or an ArrayBuffer`)
  return checkTimeout(timeout) ?? payload
}

/** True for the close codes a browser script may send: 1000 and 3000-4999 (WHATWG WebSocket `close()`). */
export function isClientCloseCode (code: number): boolean {
  return code === CloseCode.NORMAL || (Number.isInteger(code) && code >= 3000 && code <= 4999)
}
