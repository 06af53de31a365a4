/**
 * @internal The client's requests to the server (`request` event): held until the handler listens,
 * handed to the listeners with a `respond` callback, and counted until answered
 * (`reliable.maxRequestsInFlight` caps the count).
 */
import type { FastifyBaseLogger } from 'fastify'
import type { Respond } from '../connection-events.js'
import { MessageQueue } from '../message-queue.js'

/** @internal What the requests need from their connection. */
export interface RequestHost {
  /** Where a failing request listener is logged. */
  readonly log: FastifyBaseLogger
  /** What the log says instead of the session id. */
  readonly sessionTag: string
  /** The `request` listeners now attached (called with the connection as `this`). */
  listeners (event: 'request'): Array<(...args: never[]) => unknown>
  /** How many `request` listeners are attached. */
  listenerCount (event: 'request'): number
  /** Send the answer to request `seq`: an Error as an error response, anything else as the response. */
  answerRequest (seq: number, response: unknown): void
}

/** @internal The client requests of one session. */
export class IncomingRequests {
  readonly #host: RequestHost
  // The handler may still be starting (async): requests wait like messages until it listens.
  readonly #queue = new MessageQueue<[number, unknown, boolean]>()
  #inFlight = 0

  /** @param host - the connection the requests arrive on (listeners are called with it as `this`) */
  constructor (host: RequestHost) {
    this.#host = host
  }

  /** Client requests received and not yet answered (queued or with the application). */
  get inFlight (): number {
    return this.#inFlight
  }

  /** True until the queue was flushed or dropped: requests still wait for a listener. */
  get isQueuing (): boolean {
    return this.#queue.isOpen
  }

  /** True while the requests waiting for a listener have reached the pause threshold: reading stays paused. */
  get holdsReading (): boolean {
    return this.#queue.isFull
  }

  /** A valid request arrived: queue it while nobody listens yet, or hand it to the listeners. True: pause reading now. */
  receive (seq: number, payload: unknown, isBinary: boolean): boolean {
    this.#inFlight++
    if (this.#queue.isOpen && this.#host.listenerCount('request') === 0) {
      this.#queue.push([seq, payload, isBinary])
      return this.#queue.isFull
    }
    this.#answer(seq, payload, isBinary)
    return false
  }

  /** Hand the queued requests to the listeners, or refuse them if there are none; the queue closes. False when it was closed already. */
  flush (): boolean {
    if (!this.#queue.isOpen) return false
    for (const [seq, payload, isBinary] of this.#queue.take()) this.#answer(seq, payload, isBinary)
    return true
  }

  /** The session ended: queued requests are never answered. */
  drop (): void {
    this.#queue.drop()
  }

  #answer (seq: number, payload: unknown, isBinary: boolean): void {
    const host = this.#host
    let answered = false
    const respond: Respond<unknown> = (response) => {
      if (answered) return
      answered = true
      this.#inFlight--
      host.answerRequest(seq, response)
    }
    const listeners = host.listeners('request')
    if (listeners.length === 0) {
      respond(new Error('no request handler'))
      return
    }
    // Called here rather than through emit(), so that a listener that throws or rejects gets its
    // request answered instead of closing the connection. The reason stays generic: error
    // messages may carry internals; `respond(new Error(reason))` sends a reason on purpose.
    const failed = (error: unknown): void => {
      host.log.error({ err: error, session: host.sessionTag }, 'websocket request listener failed')
      respond(new Error('internal error'))
    }
    for (const listener of listeners) {
      try {
        const result: unknown = Reflect.apply(listener, host, [payload, isBinary, respond])
        if (result instanceof Promise) result.catch(failed)
      } catch (error) {
        failed(error)
      }
    }
  }
}
