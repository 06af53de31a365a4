import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { FRWS_ERR_STORE_UNAVAILABLE } from '../errors.js'
import { isTextFrame } from '../protocol/text-frame-bytes.js'
import type { Payload } from '../protocol/frames.js'
import type {
  ClaimResult, ClaimSessionInput, CreateSessionInput, SessionPatch, SessionState, SessionStore, StoredMessage
} from './session-store.js'
import { CLAIM, CREATE, DELETE, GET, RELEASE, RENEW, UPDATE } from './redis-scripts.js'

/** Options of {@link RedisSessionStore}. */
export interface RedisSessionStoreOptions {
  /** An ioredis client (`Redis` or `Cluster`), owned by the caller: `close()` does not quit it. */
  redis: Redis | Cluster
  /**
   * Prefix of every key; the session id follows in braces (a Cluster hash tag).
   * @default 'frws:'
   */
  keyPrefix?: string
  /**
   * Lifetime of an attached session's keys, in ms, renewed by every update and by a timer of this
   * store every third of it. A node that crashes stops renewing, so its sessions expire this long
   * after its last write: the window in which a client can resume on another node after a crash.
   * @default 60000
   */
  leaseTimeout?: number
  /**
   * Longest wait for one Redis command, in ms; past it (or while the client is not connected) the
   * call fails with FRWS_ERR_STORE_UNAVAILABLE instead of queueing.
   * @default 2000
   */
  commandTimeout?: number
}

type ScriptName = 'frwsCreate' | 'frwsClaim' | 'frwsUpdate' | 'frwsRelease' | 'frwsDelete' | 'frwsRenew' | 'frwsGet'
type ScriptArg = string | number | Buffer
type ScriptClient = Record<ScriptName, (...args: ScriptArg[]) => Promise<unknown>> &
  Record<`${ScriptName}Buffer`, (...args: ScriptArg[]) => Promise<unknown>>

const SCRIPTS: Record<ScriptName, string> = {
  frwsCreate: CREATE,
  frwsClaim: CLAIM,
  frwsUpdate: UPDATE,
  frwsRelease: RELEASE,
  frwsDelete: DELETE,
  frwsRenew: RENEW,
  frwsGet: GET
}

// A stored frame is its bytes after one byte saying whether it was a text or a binary frame.
const TEXT = 0x74
const TEXT_MARK = String.fromCharCode(TEXT)
const BINARY = 0x62

// A text frame goes to ioredis as a string ('t' and the text: the same bytes once UTF-8 encoded),
// which it writes without a Buffer per argument: the common case costs one string concatenation.
// Long text frames reach the store as UTF-8 bytes (TextFrameBytes): still text.
function encodeFrame (frame: Payload): string | Buffer {
  if (typeof frame === 'string') return TEXT_MARK + frame
  const stored = Buffer.allocUnsafe(frame.byteLength + 1)
  stored[0] = isTextFrame(frame) ? TEXT : BINARY
  stored.set(frame, 1)
  return stored
}

function decodeFrame (stored: Buffer): Payload {
  return stored[0] === TEXT ? stored.toString('utf8', 1) : Buffer.from(stored.subarray(1))
}

// null cannot be a hash value: a principal is stored with a marker before it.
function encodePrincipal (principal: string | null): string {
  return principal === null ? '-' : `+${principal}`
}

function decodePrincipal (stored: string): string | null {
  return stored === '-' ? null : stored.slice(1)
}

function randomId (bytes: number): string {
  return randomBytes(bytes).toString('base64url')
}

function decodeState (sessionId: string, reply: Buffer[]): SessionState {
  const clientDelivered = Number(reply[6].toString())
  const serverAcked = Number(reply[7].toString())
  const serverSeq = Number(reply[8].toString())
  const messages: StoredMessage[] = []
  for (let i = 9; i < reply.length; i++) messages.push({ seq: serverAcked + i - 8, frame: decodeFrame(reply[i]) })
  return {
    sessionId,
    epoch: reply[3].toString(),
    route: reply[4].toString(),
    principal: decodePrincipal(reply[5].toString()),
    clientDelivered,
    serverAcked,
    serverSeq,
    messages
  }
}

/**
 * A session store in Redis (issue 9, docs/SCALE-OUT.md): any node of a cluster can resume any
 * session, including those of a node that crashed. One session's keys share the hash tag
 * `{<sessionId>}`, so it works on Redis Cluster; each operation is one Lua script (atomic), and
 * every write is fenced by the owner id, so a zombie node's late writes are refused. Every key has
 * a TTL: `leaseTimeout` while attached (renewed), `sessionTimeout` once released. Frames are stored
 * as bytes with their kind (text or binary).
 *
 * When Redis cannot be reached every method rejects with FRWS_ERR_STORE_UNAVAILABLE; the plugin
 * then refuses new reliable sessions with 1013 and keeps retrying the writes of live ones.
 */
export class RedisSessionStore implements SessionStore {
  /** Messages reach the socket only once recorded in Redis. */
  readonly outlivesProcess = true
  readonly #redis: Redis | Cluster
  readonly #scripts: ScriptClient
  readonly #prefix: string
  readonly #lease: number
  readonly #commandTimeout: number
  // Sessions this store holds attached, with their owner: their leases are renewed by the timer.
  readonly #attached = new Map<string, string>()
  #timer: ReturnType<typeof setInterval> | undefined

  constructor (options: RedisSessionStoreOptions) {
    const { redis, keyPrefix = 'frws:', leaseTimeout = 60_000, commandTimeout = 2000 } = options
    if (redis === null || typeof redis !== 'object' || typeof redis.defineCommand !== 'function') {
      throw new TypeError('redis must be an ioredis client')
    }
    if (typeof keyPrefix !== 'string') throw new TypeError('keyPrefix must be a string')
    if (!Number.isSafeInteger(leaseTimeout) || leaseTimeout < 1000) throw new TypeError('leaseTimeout must be an integer >= 1000 (ms)')
    if (!Number.isSafeInteger(commandTimeout) || commandTimeout < 1) throw new TypeError('commandTimeout must be a positive integer (ms)')
    this.#redis = redis
    this.#prefix = keyPrefix
    this.#lease = leaseTimeout
    this.#commandTimeout = commandTimeout
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      if (typeof (redis as unknown as Record<string, unknown>)[name] !== 'function') redis.defineCommand(name, { numberOfKeys: 2, lua })
    }
    this.#scripts = redis as unknown as ScriptClient
  }

  /** {@inheritDoc SessionStore.create} */
  async create (input: CreateSessionInput): Promise<SessionState> {
    const epoch = randomId(6)
    for (;;) {
      const sessionId = randomId(16)
      const created = await this.#run('create', 'frwsCreate', sessionId,
        epoch, input.route, encodePrincipal(input.principal), input.tokenHash, input.ownerId, this.#lease)
      if (created === 1) {
        this.#hold(sessionId, input.ownerId)
        return {
          sessionId, epoch, route: input.route, principal: input.principal, clientDelivered: 0, serverAcked: 0, serverSeq: 0, messages: []
        }
      }
    }
  }

  /** {@inheritDoc SessionStore.claim} */
  async claim (input: ClaimSessionInput): Promise<ClaimResult> {
    const reply = await this.#run('claim', 'frwsClaimBuffer', input.sessionId,
      input.epoch, input.tokenHash, input.route, encodePrincipal(input.principal), input.ownerId, input.nextTokenHash, this.#lease) as Buffer[]
    const status = reply[0].toString()
    if (status !== 'claimed') return { status } as ClaimResult
    this.#hold(input.sessionId, input.ownerId)
    return {
      status: 'claimed',
      state: decodeState(input.sessionId, reply),
      previousOwner: reply[1].toString(),
      previousAttached: reply[2].toString() === '1'
    }
  }

  /** {@inheritDoc SessionStore.update} */
  async update (sessionId: string, ownerId: string, patch: SessionPatch): Promise<boolean> {
    const append = patch.append ?? []
    const args: ScriptArg[] = [ownerId, this.#lease, append[0]?.seq ?? 0, patch.serverAcked ?? -1, patch.clientDelivered ?? -1]
    for (const message of append) args.push(encodeFrame(message.frame))
    const owned = await this.#run('update', 'frwsUpdate', sessionId, ...args) === 1
    if (!owned) this.#drop(sessionId, ownerId)
    return owned
  }

  /** {@inheritDoc SessionStore.release} */
  async release (sessionId: string, ownerId: string, sessionTimeout: number): Promise<boolean> {
    const released = await this.#run('release', 'frwsRelease', sessionId, ownerId, Math.max(1, Math.ceil(sessionTimeout))) === 1
    // Dropped only once released: after a failed release the keys still carry the lease, and it must
    // go on being renewed until the node ends the session, or they expire before sessionTimeout.
    this.#drop(sessionId, ownerId)
    return released
  }

  /** {@inheritDoc SessionStore.delete} */
  async delete (sessionId: string, ownerId: string): Promise<boolean> {
    this.#drop(sessionId, ownerId)
    return await this.#run('delete', 'frwsDelete', sessionId, ownerId) === 1
  }

  /** {@inheritDoc SessionStore.get} */
  async get (sessionId: string): Promise<SessionState | undefined> {
    const reply = await this.#run('get', 'frwsGetBuffer', sessionId) as Buffer[]
    return reply[0].toString() === 'ok' ? decodeState(sessionId, reply) : undefined
  }

  /** Stop renewing leases. The Redis client stays open: it belongs to the caller. */
  async close (): Promise<void> {
    this.#attached.clear()
    this.#stopTimer()
  }

  /** Renew the lease of every session this store holds attached (the timer calls this). */
  async renewLeases (): Promise<void> {
    await Promise.all([...this.#attached].map(async ([sessionId, ownerId]) => {
      try {
        if (await this.#run('renew', 'frwsRenew', sessionId, ownerId, this.#lease) === 0) this.#drop(sessionId, ownerId)
      } catch {
        // Redis unreachable: the next round tries again; the lease outlasts two missed rounds.
      }
    }))
  }

  #hold (sessionId: string, ownerId: string): void {
    this.#attached.set(sessionId, ownerId)
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => { void this.renewLeases() }, Math.floor(this.#lease / 3))
    this.#timer.unref()
  }

  #drop (sessionId: string, ownerId: string): void {
    if (this.#attached.get(sessionId) !== ownerId) return
    this.#attached.delete(sessionId)
    if (this.#attached.size === 0) this.#stopTimer()
  }

  #stopTimer (): void {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Run a script on one session's keys; an unreachable or slow Redis becomes FRWS_ERR_STORE_UNAVAILABLE. */
  async #run (operation: string, script: ScriptName | `${ScriptName}Buffer`, sessionId: string, ...args: ScriptArg[]): Promise<unknown> {
    const status = this.#redis.status
    if (status !== 'ready') throw new FRWS_ERR_STORE_UNAVAILABLE(operation, `redis client is ${status}`)
    const base = `${this.#prefix}{${sessionId}}`
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new FRWS_ERR_STORE_UNAVAILABLE(operation, `no answer within ${this.#commandTimeout} ms`)), this.#commandTimeout)
    })
    try {
      return await Promise.race([this.#scripts[script](`${base}:meta`, `${base}:msgs`, ...args), timeout])
    } catch (error) {
      if (error instanceof Error && error.name === 'ReplyError') {
        if (error.message.startsWith('RANGE ')) throw new RangeError(error.message.slice(6))
        throw error
      }
      if (error instanceof Error && (error as { code?: string }).code === 'FRWS_ERR_STORE_UNAVAILABLE') throw error
      throw new FRWS_ERR_STORE_UNAVAILABLE(operation, error instanceof Error ? error.message : String(error))
    } finally {
      clearTimeout(timer)
    }
  }
}
