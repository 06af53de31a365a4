/**
 * Runs the application's handler for a request from the server and produces exactly one answer
 * (docs/PROTOCOL.md, "request": every request gets one response or one error response).
 */
import type { Payload } from '../protocol/frames.js'
import type { RequestHandler } from './client-options.js'
import type { MessageTypes } from '../messages/types.js'
import { toPayload } from './outgoing-data.js'
import { messageOf } from './error-message.js'

/** The answer to a server request: a response payload, or the reason of an error response. */
export type Answer = { ok: true, payload: Payload } | { ok: false, reason: string }


/** The answer for a handler's return value when the client has no `messages`: the bytes or string as they are. */
export function toAnswer (value: unknown): Answer {
  const payload = toPayload(value)
  if (payload !== undefined) return { ok: true, payload }
  return { ok: false, reason: 'the request handler returned neither a string, a Uint8Array nor an ArrayBuffer' }
}

/**
 * Call `handler` with `data` and pass its answer to `done`, once: synchronously for a synchronous
 * handler (so answers keep the order of requests), after settling for a promise. A throw or a
 * rejection becomes an error response with the error's message; no handler is an error response too.
 */
export function answerRequest (
  handler: RequestHandler<MessageTypes> | undefined, data: unknown, encode: (value: unknown) => Answer, done: (answer: Answer) => void
): void {
  if (handler === undefined) {
    done({ ok: false, reason: 'the client has no request handler' })
    return
  }
  let result: unknown
  try {
    result = handler(data)
  } catch (error) {
    done({ ok: false, reason: messageOf(error) })
    return
  }
  if (typeof (result as Promise<unknown>)?.then !== 'function') {
    done(encode(result))
    return
  }
  (result as Promise<unknown>).then((value) => done(encode(value)), (error: unknown) => done({ ok: false, reason: messageOf(error) }))
}
