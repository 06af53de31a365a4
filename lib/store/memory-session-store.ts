import type { Payload } from '../protocol/frames.js'
import type {
  ClaimResult,
  ClaimSessionInput,
  CreateSessionInput,
  SessionPatch,
  SessionState,
  SessionStore
} from './session-store.js'
import { resumeTokenHashesMatch } from '../reliable/resume-token.js'
import { randomBase64url } from '../reliable/secure-random.js'

/** Options of {@link MemorySessionStore}. */
export interface MemorySessionStoreOptions {
  /**
   * How often expired sessions are swept, in ms. Expiry is also checked on every access, so this
   * only bounds how long an expired session's memory lingers.
   * @default 10000
   */
  sweepInterval?: number
  /**
   * The clock, in ms since the epoch; tests inject a fake one.
   * @default Date.now
   */
  now?: () => number
}

interface Entry {
  sessionId: string
  epoch: string
  route: string
  principal: string | null
  // SHA-256 of the current resume token; the token itself is never stored.
  tokenHash: string
  clientDelivered: number
  serverAcked: number
  serverSeq: number
  // frames[head..] are the frames of seqs serverAcked + 1 .. serverSeq: the very objects the
  // server's outbound log holds (no copy, no record per message). Acked ones are cut off in
  // batches, not with shift().
  frames: Payload[]
  head: number
  owner: string
  // Infinity while attached.
  expiresAt: number
}

const COMPACT_THRESHOLD = 1024
const RELEASED: Payload = ''

/**
 * The default session store: sessions live in this process's memory and die with it (a resume
 * after a restart gets `resumed: false`). Session ids are 128 random bits from `node:crypto`;
 * resume tokens are held only as their SHA-256 hash. It keeps a reference to each appended frame,
 * the same object the server's outbound log holds, and no record per message: the seq of a frame
 * follows from its position. Expired sessions are removed on access and by one
 * `unref()`'d sweep timer that runs only while some session is detached.
 */
export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Entry>()
  private readonly detached = new Set<string>()
  private readonly sweepInterval: number
  private readonly now: () => number
  private timer: ReturnType<typeof setInterval> | undefined

  constructor (options: MemorySessionStoreOptions = {}) {
    const { sweepInterval = 10_000, now = Date.now } = options
    if (!Number.isFinite(sweepInterval) || sweepInterval <= 0) throw new TypeError('sweepInterval must be a positive number')
    this.sweepInterval = sweepInterval
    this.now = now
  }

  /** Number of sessions held, expired ones not yet swept included. */
  get size (): number {
    return this.sessions.size
  }

  /** {@inheritDoc SessionStore.create} */
  async create (input: CreateSessionInput): Promise<SessionState> {
    let sessionId = randomBase64url(16)
    while (this.sessions.has(sessionId)) sessionId = randomBase64url(16)
    const entry: Entry = {
      sessionId,
      epoch: randomBase64url(6),
      route: input.route,
      principal: input.principal,
      tokenHash: input.tokenHash,
      clientDelivered: 0,
      serverAcked: 0,
      serverSeq: 0,
      frames: [],
      head: 0,
      owner: input.ownerId,
      expiresAt: Infinity
    }
    this.sessions.set(sessionId, entry)
    return snapshot(entry)
  }

  /** {@inheritDoc SessionStore.claim} */
  async claim (input: ClaimSessionInput): Promise<ClaimResult> {
    const entry = this.live(input.sessionId)
    if (entry === undefined) return { status: 'not-found' }
    if (!resumeTokenHashesMatch(entry.tokenHash, input.tokenHash)) return { status: 'token-mismatch' }
    if (entry.route !== input.route) return { status: 'wrong-route' }
    if (entry.epoch !== input.epoch) return { status: 'epoch-mismatch' }
    if (entry.principal !== input.principal) return { status: 'forbidden' }
    const previousOwner = entry.owner
    const previousAttached = entry.expiresAt === Infinity
    entry.tokenHash = input.nextTokenHash
    entry.owner = input.ownerId
    entry.expiresAt = Infinity
    this.detached.delete(entry.sessionId)
    return { status: 'claimed', state: snapshot(entry), previousOwner, previousAttached }
  }

  /** {@inheritDoc SessionStore.update} */
  async update (sessionId: string, ownerId: string, patch: SessionPatch): Promise<boolean> {
    const entry = this.owned(sessionId, ownerId)
    if (entry === undefined) return false
    const { append, serverAcked, clientDelivered } = patch
    let serverSeq = entry.serverSeq
    // A write retried after a timeout may carry messages the store already holds: they are skipped.
    const fresh = append?.filter((message) => message.seq > entry.serverSeq)
    if (fresh !== undefined) {
      for (const message of fresh) {
        if (message.seq !== serverSeq + 1) throw new RangeError(`appended seq ${message.seq} does not follow ${serverSeq}`)
        serverSeq++
      }
    }
    if (serverAcked !== undefined && (serverAcked < entry.serverAcked || serverAcked > serverSeq)) {
      throw new RangeError(`serverAcked ${serverAcked} must be between ${entry.serverAcked} and ${serverSeq}`)
    }
    if (clientDelivered !== undefined && clientDelivered < entry.clientDelivered) {
      throw new RangeError(`clientDelivered ${clientDelivered} is below ${entry.clientDelivered}`)
    }
    // Validated first and applied after, so a rejected patch changes nothing.
    if (fresh !== undefined) {
      for (const message of fresh) entry.frames.push(message.frame)
      entry.serverSeq = serverSeq
    }
    if (serverAcked !== undefined) trim(entry, serverAcked)
    if (clientDelivered !== undefined) entry.clientDelivered = clientDelivered
    return true
  }

  /** {@inheritDoc SessionStore.release} */
  async release (sessionId: string, ownerId: string, sessionTimeout: number): Promise<boolean> {
    const entry = this.owned(sessionId, ownerId)
    if (entry === undefined) return false
    entry.expiresAt = this.now() + sessionTimeout
    this.detached.add(sessionId)
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), this.sweepInterval)
      this.timer.unref()
    }
    return true
  }

  /** {@inheritDoc SessionStore.delete} */
  async delete (sessionId: string, ownerId: string): Promise<boolean> {
    if (this.owned(sessionId, ownerId) === undefined) return false
    this.remove(sessionId)
    return true
  }

  /** {@inheritDoc SessionStore.get} */
  async get (sessionId: string): Promise<SessionState | undefined> {
    const entry = this.live(sessionId)
    return entry === undefined ? undefined : snapshot(entry)
  }

  /** {@inheritDoc SessionStore.close} */
  async close (): Promise<void> {
    this.stopSweep()
    this.sessions.clear()
    this.detached.clear()
  }

  /**
   * Remove every expired session now; the sweep timer calls this.
   * @returns the number of sessions removed
   */
  sweep (): number {
    const now = this.now()
    let removed = 0
    for (const sessionId of this.detached) {
      const entry = this.sessions.get(sessionId)
      if (entry === undefined || entry.expiresAt <= now) {
        this.remove(sessionId)
        removed++
      }
    }
    if (this.detached.size === 0) this.stopSweep()
    return removed
  }

  private live (sessionId: string): Entry | undefined {
    const entry = this.sessions.get(sessionId)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= this.now()) {
      this.remove(sessionId)
      return undefined
    }
    return entry
  }

  private owned (sessionId: string, ownerId: string): Entry | undefined {
    const entry = this.live(sessionId)
    return entry !== undefined && entry.owner === ownerId ? entry : undefined
  }

  private remove (sessionId: string): void {
    this.sessions.delete(sessionId)
    this.detached.delete(sessionId)
  }

  private stopSweep (): void {
    if (this.timer === undefined) return
    clearInterval(this.timer)
    this.timer = undefined
  }
}

function trim (entry: Entry, serverAcked: number): void {
  const { frames } = entry
  const head = entry.head + serverAcked - entry.serverAcked
  entry.serverAcked = serverAcked
  if (head === frames.length) {
    entry.frames = []
    entry.head = 0
  } else if (head >= COMPACT_THRESHOLD && head * 2 >= frames.length) {
    entry.frames = frames.slice(head)
    entry.head = 0
  } else {
    // Let go of the acknowledged frames at once; the slots are cut off later in one batch.
    frames.fill(RELEASED, entry.head, head)
    entry.head = head
  }
}

function snapshot (entry: Entry): SessionState {
  return {
    sessionId: entry.sessionId,
    epoch: entry.epoch,
    route: entry.route,
    principal: entry.principal,
    clientDelivered: entry.clientDelivered,
    serverAcked: entry.serverAcked,
    serverSeq: entry.serverSeq,
    messages: entry.frames.slice(entry.head).map((frame, i) => ({ seq: entry.serverAcked + 1 + i, frame }))
  }
}
