/** One side of a Node IPC channel: a spawned child as the parent sees it, or `process` in the child. */
export interface IpcEndpoint {
  on (event: 'message' | 'disconnect', listener: (message: unknown) => void): unknown
  send? (message: object): boolean
  readonly connected: boolean
}

/** A request handler: its result (or the rejection's message) goes back to the requester. */
export type RpcHandler = (payload: never) => unknown

interface RequestEnvelope { rpc: 'request', id: number, type: string, payload: unknown }
interface ResponseEnvelope { rpc: 'response', id: number, result?: unknown, error?: string }
interface ReadyEnvelope { rpc: 'ready' }
type Envelope = RequestEnvelope | ResponseEnvelope | ReadyEnvelope

interface Waiter {
  resolve: (value: unknown) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
}

/**
 * Request/response over the IPC channel of a child process, usable from both ends: the benchmark
 * runner drives target servers and load generators with it, and they answer.
 */
export class RpcChannel {
  readonly #endpoint: IpcEndpoint
  readonly #handlers = new Map<string, RpcHandler>()
  readonly #waiters = new Map<number, Waiter>()
  #nextId = 1
  #markReady: () => void = () => {}
  /** Resolves when the other side has called {@link RpcChannel.announceReady}. */
  readonly ready: Promise<void> = new Promise((resolve) => { this.#markReady = resolve })

  constructor (endpoint: IpcEndpoint) {
    this.#endpoint = endpoint
    endpoint.on('message', (message) => { this.#receive(message as Envelope) })
    endpoint.on('disconnect', () => { this.#failAll(new Error('IPC channel closed')) })
  }

  /** Answer requests of `type` with `handler`. */
  handle<P> (type: string, handler: (payload: P) => unknown): void {
    this.#handlers.set(type, handler as RpcHandler)
  }

  /** Tell the other side that every handler is in place (it may send requests now). */
  announceReady (): void {
    this.#endpoint.send?.({ rpc: 'ready' } satisfies ReadyEnvelope)
  }

  /** Send a request and wait for its result, at most `timeout` ms. */
  request<R> (type: string, payload: unknown = null, timeout = 30_000): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (!this.#endpoint.connected || this.#endpoint.send === undefined) {
        reject(new Error(`cannot send "${type}": IPC channel closed`))
        return
      }
      const id = this.#nextId++
      const timer = setTimeout(() => {
        this.#waiters.delete(id)
        reject(new Error(`no answer to "${type}" within ${timeout} ms`))
      }, timeout)
      this.#waiters.set(id, { resolve: resolve as (value: unknown) => void, reject, timer })
      this.#endpoint.send({ rpc: 'request', id, type, payload } satisfies RequestEnvelope)
    })
  }

  #receive (message: Envelope): void {
    if (message === null || typeof message !== 'object') return
    if (message.rpc === 'ready') {
      this.#markReady()
    } else if (message.rpc === 'response') {
      const waiter = this.#waiters.get(message.id)
      if (waiter === undefined) return
      this.#waiters.delete(message.id)
      clearTimeout(waiter.timer)
      if (message.error === undefined) waiter.resolve(message.result)
      else waiter.reject(new Error(message.error))
    } else if (message.rpc === 'request') {
      void this.#answer(message)
    }
  }

  async #answer (request: RequestEnvelope): Promise<void> {
    let response: ResponseEnvelope
    try {
      const handler = this.#handlers.get(request.type)
      if (handler === undefined) throw new Error(`no handler for "${request.type}"`)
      response = { rpc: 'response', id: request.id, result: await handler(request.payload as never) ?? null }
    } catch (error) {
      response = { rpc: 'response', id: request.id, error: error instanceof Error ? error.stack ?? error.message : String(error) }
    }
    if (this.#endpoint.connected) this.#endpoint.send?.(response)
  }

  #failAll (error: Error): void {
    for (const waiter of this.#waiters.values()) {
      clearTimeout(waiter.timer)
      waiter.reject(error)
    }
    this.#waiters.clear()
  }
}

/**
 * The channel of a benchmark child process to its parent. The child exits when the parent goes
 * away, so no benchmark process outlives the run.
 */
export function parentChannel (): RpcChannel {
  if (process.send === undefined) throw new Error('this script is started by bench/run.ts (it needs an IPC channel)')
  process.on('disconnect', () => process.exit(0))
  return new RpcChannel(process as unknown as IpcEndpoint)
}
