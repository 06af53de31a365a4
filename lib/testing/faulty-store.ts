/**
 * A `SessionStore` wrapper that makes any store slow or failing on command, to test what a
 * reliable route does when its store (Redis, a database) lags or goes down.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { SessionStore } from '../store/session-store.js'

/** The methods of a {@link SessionStore} that a {@link FaultyStore} can slow down or fail (`close` always passes through). */
export type SessionStoreMethod = 'create' | 'claim' | 'update' | 'release' | 'delete' | 'get'

const METHODS: readonly SessionStoreMethod[] = ['create', 'claim', 'update', 'release', 'delete', 'get']

/** Latency in milliseconds: one value for every method, or per method (a missing method gets 0). */
export type StoreLatency = number | Partial<Record<SessionStoreMethod, number>>

/** Options of {@link faultyStore}. */
export interface FaultyStoreOptions {
  /** Time each call waits before it reaches the wrapped store, in milliseconds. @default 0 */
  latency?: StoreLatency
}

/** A {@link SessionStore} with faults on command; see {@link faultyStore}. */
export interface FaultyStore extends SessionStore {
  /** The wrapped store. */
  readonly inner: SessionStore
  /** Calls made so far, per method, failed ones included. */
  readonly calls: Readonly<Record<SessionStoreMethod, number>>
  /** Calls failed by injection so far, per method. */
  readonly failures: Readonly<Record<SessionStoreMethod, number>>
  /** Replace the latency of every later call (see {@link FaultyStoreOptions.latency}). */
  setLatency (latency: StoreLatency): void
  /**
   * Make the next call of `method` reject with `error` without reaching the wrapped store (after
   * the latency). Calls queue up: `failNext('update')` twice fails the next two updates.
   * @param error @default an `Error` whose message names the method
   */
  failNext (method: SessionStoreMethod, error?: Error): void
  /**
   * The store is down: every call of every method rejects with `error` until {@link heal}.
   * @param error @default an `Error` saying the store is down
   */
  failAll (error?: Error): void
  /** End {@link failAll} and forget failures queued by {@link failNext}. The latency stays. */
  heal (): void
}

function injected (method: SessionStoreMethod): Error {
  return new Error(`injected session store failure in ${method}()`)
}

function checkLatency (latency: StoreLatency): StoreLatency {
  const values = typeof latency === 'number' ? [latency] : Object.values(latency)
  for (const value of values) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`faultyStore: latency must be milliseconds >= 0, got ${String(value)}`)
    }
  }
  return latency
}

/** Wait `ms` or a little more, never less (a timer may fire a millisecond early by the wall clock). */
async function waitAtLeast (ms: number): Promise<void> {
  const until = Date.now() + ms
  for (let left = ms; left > 0; left = until - Date.now()) await sleep(left)
}

function zeroCounts (): Record<SessionStoreMethod, number> {
  return { create: 0, claim: 0, update: 0, release: 0, delete: 0, get: 0 }
}

/**
 * Wrap `store` so that its calls take longer (`latency`) or fail on command (`failNext`,
 * `failAll`), while everything else reaches the wrapped store unchanged. A failed call never
 * reaches the wrapped store, like a request lost on its way to a database.
 *
 * @example
 * const store = faultyStore(new MemorySessionStore(), { latency: 20 })
 * await app.register(fastifyReliableWs, { sessionStore: store })
 * store.failNext('create') // the next new session fails: the client sees 1011 and reconnects
 */
export function faultyStore (store: SessionStore, options: FaultyStoreOptions = {}): FaultyStore {
  let latency = checkLatency(options.latency ?? 0)
  let outage: Error | undefined
  const queued = new Map<SessionStoreMethod, Error[]>(METHODS.map((method) => [method, []]))
  const calls = zeroCounts()
  const failures = zeroCounts()

  async function call<T> (method: SessionStoreMethod, run: () => Promise<T>): Promise<T> {
    calls[method]++
    // Decided when the call starts, so a failure queued now hits the call that follows, not one already waiting.
    const failure = outage ?? queued.get(method)?.shift()
    const wait = typeof latency === 'number' ? latency : latency[method] ?? 0
    if (wait > 0) await waitAtLeast(wait)
    if (failure !== undefined) {
      failures[method]++
      throw failure
    }
    return await run()
  }

  return {
    inner: store,
    outlivesProcess: store.outlivesProcess,
    calls,
    failures,
    setLatency (value) {
      latency = checkLatency(value)
    },
    failNext (method, error = injected(method)) {
      const failuresOfMethod = queued.get(method)
      if (failuresOfMethod === undefined) throw new TypeError(`faultyStore: unknown method ${String(method)}`)
      failuresOfMethod.push(error)
    },
    failAll (error) {
      outage = error ?? new Error('injected session store outage')
    },
    heal () {
      outage = undefined
      for (const failuresOfMethod of queued.values()) failuresOfMethod.length = 0
    },
    create: (input) => call('create', () => store.create(input)),
    claim: (input) => call('claim', () => store.claim(input)),
    update: (sessionId, ownerId, patch) => call('update', () => store.update(sessionId, ownerId, patch)),
    release: (sessionId, ownerId, sessionTimeout) => call('release', () => store.release(sessionId, ownerId, sessionTimeout)),
    delete: (sessionId, ownerId) => call('delete', () => store.delete(sessionId, ownerId)),
    get: (sessionId) => call('get', () => store.get(sessionId)),
    close: () => store.close()
  }
}
