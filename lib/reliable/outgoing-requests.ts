/**
 * @internal The server's requests to the client that wait for their response
 * (`ReliableConnection.request()`): one entry per request seq, each with its timeout.
 */
import { FRWS_ERR_REQUEST_TIMEOUT } from '../errors.js'
import { noop } from './send-promises.js'

/** @internal How a waiting request is settled. */
export interface RequestSettlers {
  /** Fulfil `request()` with the (decoded, validated) response. */
  resolve: (value: unknown) => void
  /** Reject `request()`: an error response, an invalid response, or the send failed. */
  reject: (error: Error) => void
}

interface PendingRequest extends RequestSettlers {
  timer: NodeJS.Timeout
}

/** @internal The requests of one session that wait for a response, by the seq they were sent with. */
export class OutgoingRequests {
  readonly #pending = new Map<number, PendingRequest>()

  /** How many requests wait for a response (what `reliable.maxRequestsInFlight` caps). */
  get size (): number {
    return this.#pending.size
  }

  /**
   * Wait for the response to the request sent as `seq`. The promise rejects with
   * FRWS_ERR_REQUEST_TIMEOUT after `timeout` ms; it is never an unhandled rejection.
   */
  open (seq: number, timeout: number): Promise<unknown> {
    const promise = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(seq)
        reject(new FRWS_ERR_REQUEST_TIMEOUT(timeout))
      }, timeout)
      timer.unref()
      this.#pending.set(seq, { resolve, reject, timer })
    })
    promise.catch(noop)
    return promise
  }

  /** Stop waiting for request `seq` and return how to settle it; undefined when it already settled (timeout, session end). */
  take (seq: number): RequestSettlers | undefined {
    const pending = this.#pending.get(seq)
    if (pending === undefined) return undefined
    this.#pending.delete(seq)
    clearTimeout(pending.timer)
    return pending
  }

  /** Reject every waiting request with `error` (the session ended). */
  failAll (error: Error): void {
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer)
      pending.reject(error)
    }
    this.#pending.clear()
  }
}
