/**
 * The store behind reliable sessions. The server keeps each session's live state (outbound log,
 * inbound tracker, `send()` callbacks) in memory while it owns the session; the store holds the
 * serialisable part, enough for ANY node to resume the session: who may resume it (route,
 * principal, the hash of the current resume token), where each direction stands, and the
 * server-to-client messages the client has not acknowledged.
 *
 * Ownership: every session has exactly one owner, the id of the connection that created or last
 * claimed it. Only the owner may update, release or delete it, so a connection that was superseded
 * (possibly on another node) finds out from a `false` result and closes with 4409. Ownership
 * survives a disconnect: the owner keeps appending messages sent while the client is away.
 *
 * Contract for every implementation (`MemorySessionStore` is the reference):
 * - methods are async and never share mutable objects with the caller: returned states and
 *   message lists are copies. Frames are immutable (neither side changes a frame after `update`),
 *   so an in-process store keeps the very frame objects it was given instead of copying them: the
 *   server's outbound log and the store then share each frame's bytes (no duplicate buffering);
 *   a store outside the process serialises them;
 * - `claim` is atomic: two concurrent claims of one session both succeed only in sequence, the
 *   second reporting the first as `previousOwner`; a claim replaces the token hash, so of two
 *   claims presenting the same token only the first succeeds;
 * - the store never sees a resume token, only its SHA-256 hash (`lib/reliable/resume-token.ts`),
 *   and compares hashes in constant time;
 * - a session expires `sessionTimeout` ms after `release` unless claimed again; an expired session
 *   behaves exactly like one that never existed. A store that outlives the process (Redis) should
 *   also put a lease on attached sessions, renewed by `update`, so that a crashed node's sessions
 *   expire too.
 */
import type { Payload } from '../protocol/frames.js'

/** A server-to-client message kept for replay: its seq and the frame exactly as it was sent. */
export interface StoredMessage {
  /** The message's seq (server-to-client direction). */
  seq: number
  /** The encoded frame: a string for a text frame, bytes for a binary frame. Never mutated once stored. */
  frame: Payload
}

/** The serialisable state of a session. */
export interface SessionState {
  /** Random, unguessable id (the client presents it to resume). */
  sessionId: string
  /** Identifies this incarnation of the session; a resume with another epoch does not continue it. */
  epoch: string
  /** The route that created the session (`lib/reliable/route-identity.ts`); a resume elsewhere is refused. */
  route: string
  /** The authenticated identity that owns the session, `null` for anonymous routes (then the resume token is the only secret). */
  principal: string | null
  /** Highest client-to-server seq the server delivered to its application. */
  clientDelivered: number
  /** Highest server-to-client seq the client acknowledged. */
  serverAcked: number
  /** Highest server-to-client seq assigned. */
  serverSeq: number
  /** The messages with seqs `serverAcked + 1` to `serverSeq`, in order. */
  messages: StoredMessage[]
}

/** Input of {@link SessionStore.create}. */
export interface CreateSessionInput {
  /** The identity of the route the connection came through. */
  route: string
  /** The authenticated identity of the connection (`null` when the route has no authentication). */
  principal: string | null
  /** SHA-256 (base64url) of the resume token the welcome hands out. */
  tokenHash: string
  /** The id of the connection creating the session; it becomes the owner. */
  ownerId: string
}

/** Input of {@link SessionStore.claim}. */
export interface ClaimSessionInput {
  /** From the hello's `resume.sessionId`. */
  sessionId: string
  /** From the hello's `resume.epoch`. */
  epoch: string
  /** SHA-256 (base64url) of the hello's `resume.token`; must equal the stored hash. */
  tokenHash: string
  /** The identity of the route the resuming connection came through; must equal the session's. */
  route: string
  /** The authenticated identity of the resuming connection; must equal the session's. */
  principal: string | null
  /** The id of the resuming connection; it becomes the owner on success. */
  ownerId: string
  /** SHA-256 (base64url) of the token the next welcome hands out; replaces the stored hash on success. */
  nextTokenHash: string
}

/** The outcome of {@link SessionStore.claim}. */
export type ClaimResult =
  | {
    status: 'claimed'
    /** A copy of the state at the moment of the claim. */
    state: SessionState
    /** The owner before this claim (the connection to close with 4409 if it is still open). */
    previousOwner: string
    /** True when the previous owner had not released the session (its connection may still be open). */
    previousAttached: boolean
  }
  /** Unknown or expired: answer with a new session, `resumed: false`. */
  | { status: 'not-found' }
  /** The token is not the current one (stolen id, replayed old token): close with 4403; the session is left untouched. */
  | { status: 'token-mismatch' }
  /** The session belongs to another route: close with 4421; the session is left untouched. */
  | { status: 'wrong-route' }
  /** The session exists under another epoch: answer with a new session, `resumed: false`. */
  | { status: 'epoch-mismatch' }
  /** The session belongs to another principal: close with 4401; the session is left untouched. */
  | { status: 'forbidden' }

/** Changes to a session, applied in the order append, `serverAcked`, `clientDelivered`. */
export interface SessionPatch {
  /**
   * New server-to-client messages; their seqs must continue `serverSeq` without a gap. Messages
   * whose seq the store already holds are skipped, so a write retried after a timeout (it may have
   * landed after all) does not fail.
   */
  append?: readonly StoredMessage[]
  /** New highest acknowledged server seq; messages up to it are dropped. Must not decrease or pass `serverSeq`. */
  serverAcked?: number
  /** New highest delivered client seq. Must not decrease. */
  clientDelivered?: number
}

/** Where reliable sessions live between connections. */
export interface SessionStore {
  /**
   * True for a store that outlives the process (Redis): the server then writes a message to the
   * socket only once the store has recorded it, so that a client never holds a message that a
   * node taking over after a crash does not know (docs/SCALE-OUT.md, "Durability rule").
   * @default false
   */
  readonly outlivesProcess?: boolean

  /**
   * Create a session with a fresh random id (at least 128 bits from a cryptographic source) and
   * epoch, positions at 0 and no messages, owned by `input.ownerId` and attached (it does not
   * expire until released), keeping `input.tokenHash` as its token hash.
   */
  create (input: CreateSessionInput): Promise<SessionState>

  /**
   * Atomically make `input.ownerId` the owner of a session, attach it (cancelling its expiry) and
   * replace its token hash with `input.nextTokenHash`, provided it exists, has not expired, its
   * token hash equals `input.tokenHash` (constant-time comparison), it belongs to the given route,
   * has the given epoch and belongs to the given principal. Checks run in that order, so nothing
   * but existence is revealed without the token; a failed check changes nothing.
   */
  claim (input: ClaimSessionInput): Promise<ClaimResult>

  /**
   * Apply `patch` if `ownerId` still owns the session (attached or not).
   * @returns false when the session is gone or owned by another connection: the caller was
   *   superseded and must stop using the session
   * @throws {RangeError} when the patch breaks the ordering rules of {@link SessionPatch}
   */
  update (sessionId: string, ownerId: string, patch: SessionPatch): Promise<boolean>

  /**
   * Detach the session from its connection: it expires `sessionTimeout` ms from now unless claimed.
   * @returns false when `ownerId` does not own the session (nothing changes)
   */
  release (sessionId: string, ownerId: string, sessionTimeout: number): Promise<boolean>

  /**
   * Remove the session for good (normal close, overflow, protocol error).
   * @returns false when it does not exist or `ownerId` does not own it
   */
  delete (sessionId: string, ownerId: string): Promise<boolean>

  /** A copy of the session's state, or `undefined` when it does not exist or has expired. */
  get (sessionId: string): Promise<SessionState | undefined>

  /** Release the store's resources (timers, connections). Further calls are not supported. */
  close (): Promise<void>
}
