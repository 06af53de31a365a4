/**
 * When and how soon the client reconnects: the close-code table of docs/PROTOCOL.md, the
 * `shouldRetry` hook, `maxAttempts`, and capped exponential backoff with full jitter.
 */
import { CloseCode } from '../protocol/close-codes.js'
import { backoffDelay } from './backoff.js'
import { ClientErrorCode, ReliableClientError } from './client-errors.js'
import type { CloseInfo, ResolvedClientOptions } from './client-options.js'

/**
 * - `reconnect`: reconnect with backoff and resume, if `shouldRetry` agrees (its default refuses
 *   after 4401: only an application with new credentials, e.g. from the `url` function, should retry);
 * - `idle`: stay disconnected until the application sends again;
 * - `give-up`: stop for good.
 */
export type CloseAction = 'reconnect' | 'idle' | 'give-up'

/** Consecutive connections ending in a protocol error (1002, or a 4400 by the client) before giving up. */
export const MAX_PROTOCOL_ERROR_RETRIES = 3

/** Least delay before reconnecting after 1013 (try again later) or 4507 (session shed by the server's memory budget), in ms; capped by `maxDelay`. */
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
  // 1001, 1002, 1005, 1006, 1011, 1013, 4401, 4408, 4413, 4507, codes this table does not know, and
  // 4403 and 4421 (the client then asks for a new session instead of resuming).
  return 'reconnect'
}

/** What to do after a connection (or a connection attempt) ended. */
export type ReconnectDecision =
  | { action: 'reconnect', /** 1, 2, ... since the last handshake */ attempt: number, /** ms */ delay: number }
  | { action: 'idle' }
  | { action: 'give-up', error: ReliableClientError }

/** The options the policy reads. */
export type ReconnectOptions = Pick<ResolvedClientOptions, 'baseDelay' | 'maxDelay' | 'maxAttempts' | 'shouldRetry' | 'random'>

/** Counts failed attempts and protocol errors in a row and decides each reconnect. */
export class ReconnectPolicy {
  private readonly options: ReconnectOptions
  private readonly onHookError: (error: ReliableClientError) => void
  private attempts = 0
  private protocolErrors = 0

  /** @param onHookError - receives the error when `shouldRetry` throws (then the client gives up) */
  constructor (options: ReconnectOptions, onHookError: (error: ReliableClientError) => void) {
    this.options = options
    this.onHookError = onHookError
  }

  /** Call when a handshake succeeds: the next reconnect is attempt 1 again. */
  connected (): void {
    this.attempts = 0
  }

  /**
   * Decide after a connection ended with `info`.
   * @param byClient - the client closed it itself (see {@link closeAction})
   */
  decide (info: CloseInfo, byClient: boolean): ReconnectDecision {
    const protocolError = info.code === CloseCode.PROTOCOL_ERROR || (byClient && info.code === CloseCode.BAD_MESSAGE)
    this.protocolErrors = protocolError ? this.protocolErrors + 1 : 0
    const action = closeAction(info.code, byClient)
    if (action === 'idle') return { action }
    if (action === 'give-up') return this.giveUp(info, 'because of the close code')
    if (this.protocolErrors > MAX_PROTOCOL_ERROR_RETRIES) return this.giveUp(info, `after ${this.protocolErrors} protocol errors in a row`)
    const { baseDelay, maxDelay, maxAttempts, shouldRetry, random } = this.options
    if (this.attempts >= maxAttempts) return this.giveUp(info, `after ${this.attempts} failed attempts (maxAttempts)`)
    let retry = false
    try {
      retry = shouldRetry(info)
    } catch (error) {
      this.onHookError(new ReliableClientError(ClientErrorCode.GAVE_UP, `shouldRetry threw: ${String(error)}`, { cause: error }))
    }
    if (!retry) return this.giveUp(info, 'because shouldRetry returned false')
    let delay = backoffDelay(this.attempts, baseDelay, maxDelay, random)
    // The server is short of capacity: coming back at once would only add to its load.
    if (info.code === CloseCode.TRY_AGAIN_LATER || info.code === CloseCode.SESSION_SHED) {
      delay = Math.max(delay, Math.min(TRY_AGAIN_LATER_DELAY, maxDelay))
    }
    this.attempts++
    return { action: 'reconnect', attempt: this.attempts, delay }
  }

  private giveUp (info: CloseInfo, why: string): ReconnectDecision {
    const reason = info.reason === '' ? '' : `: ${info.reason}`
    return {
      action: 'give-up',
      error: new ReliableClientError(ClientErrorCode.GAVE_UP, `Gave up reconnecting ${why} (close code ${info.code}${reason})`, { closeCode: info.code })
    }
  }
}
