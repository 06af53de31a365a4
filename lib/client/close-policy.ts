/**
 * What the client does after each close code: the close-code table of docs/PROTOCOL.md.
 */
import { CloseCode } from '../protocol/close-codes.js'

/**
 * - `reconnect`: reconnect with backoff and resume, if `shouldRetry` agrees (its default refuses
 *   after 4401: only an application with new credentials, e.g. from the `url` function, should retry);
 * - `idle`: stay disconnected until the application sends again;
 * - `give-up`: stop for good.
 */
export type CloseAction = 'reconnect' | 'idle' | 'give-up'

/** Consecutive connections ending in a protocol error (1002, or a 4400 by the client) before giving up. */
export const MAX_PROTOCOL_ERROR_RETRIES = 3

/** Least delay before reconnecting after 1013 (try again later), in ms; capped by `maxDelay`. */
export const TRY_AGAIN_LATER_DELAY = 5000

const GIVE_UP_CODES = new Set<number>([
  CloseCode.NORMAL, CloseCode.UNSUPPORTED_DATA, CloseCode.INVALID_PAYLOAD, CloseCode.POLICY_VIOLATION,
  CloseCode.MESSAGE_TOO_BIG, CloseCode.BAD_MESSAGE, CloseCode.SESSION_REPLACED, CloseCode.UNSUPPORTED_VERSION
])

/**
 * The action for a connection that closed with `code`.
 * @param byClient - true when the client itself closed the connection (a handshake or heartbeat
 *   timeout, or a protocol error by the server); then only 4426 gives up, everything else reconnects
 */
export function closeAction (code: number, byClient: boolean): CloseAction {
  if (code === CloseCode.UNSUPPORTED_VERSION) return 'give-up'
  if (byClient) return 'reconnect'
  if (GIVE_UP_CODES.has(code)) return 'give-up'
  if (code === CloseCode.IDLE_TIMEOUT) return 'idle'
  // 1001, 1002, 1005, 1006, 1011, 1013, 4401, 4408, 4413 and codes this table does not know.
  return 'reconnect'
}

/** True for the closes that count towards {@link MAX_PROTOCOL_ERROR_RETRIES}. */
export function isProtocolErrorClose (code: number, byClient: boolean): boolean {
  return code === CloseCode.PROTOCOL_ERROR || (byClient && code === CloseCode.BAD_MESSAGE)
}
