/**
 * The decision on a resume (docs/PROTOCOL.md, "Handshake and resume", steps 4 and 5). The store
 * checks the resume token, route, epoch and principal atomically in `claim`; the position the
 * client presents is checked against the freshest state (this node's live session, else the
 * store's). A refused or failed attempt leaves the session's owner untouched ([R-RS-4]): a claim
 * whose position check fails is handed back to its previous owner with its token.
 */
import type { FastifyRequest } from 'fastify'
import { CloseCode } from '../protocol/close-codes.js'
import type { ResumePosition } from '../protocol/handshake.js'
import type { ReliableConnection } from './reliable-connection.js'
import { hashResumeToken } from './resume-token.js'
import type { ClaimResult, SessionState, SessionStore } from '../store/session-store.js'
import { sessionTag } from './session-tag.js'

/** What a resume attempt comes to. */
export type ResumeOutcome =
  | { kind: 'refuse', code: number, reason: string }
  | { kind: 'new' }
  | {
    kind: 'claimed', state: SessionState, delivered: number, previousOwner: string
    /** The handshake failed after the claim: give the session back as it was, with the client's token ([R-RS-4]). */
    handBack: () => Promise<void>
  }

/** What the decision needs to know about the resuming connection. */
export interface ResumeAttempt {
  resume: ResumePosition
  route: string
  principal: string | null
  ownerId: string
  /** Hash of the token the next welcome hands out. */
  nextTokenHash: string
  sessionTimeout: number
}

/** Where the server stands in the server-to-client direction of a session. */
interface OutboundPosition { acked: number, lastSeq: number }

// A refused claim closes the socket; the session stays as it was for its owner.
const REFUSALS: Partial<Record<ClaimResult['status'], { code: number, reason: string }>> = {
  'token-mismatch': { code: CloseCode.RESUME_REFUSED, reason: 'resume refused: wrong or superseded resume token' },
  'wrong-route': { code: CloseCode.WRONG_ROUTE, reason: 'session belongs to another route' },
  forbidden: { code: CloseCode.UNAUTHORIZED, reason: 'session belongs to another principal' }
}

/** This node's live copy of a session, if it has one that has not ended. */
export function localSession (
  sessions: ReadonlyMap<string, ReliableConnection<object>>, sessionId: string
): ReliableConnection<object> | undefined {
  const local = sessions.get(sessionId)
  return local?.isEnded === true ? undefined : local
}

/** Decide a resume: claim the session when every check passes, else refuse or start afresh. */
export async function decideResume (
  store: SessionStore, sessions: ReadonlyMap<string, ReliableConnection<object>>,
  request: FastifyRequest, attempt: ResumeAttempt
): Promise<ResumeOutcome> {
  const { resume } = attempt
  const tokenHash = hashResumeToken(resume.token)
  const claim = await store.claim({
    sessionId: resume.sessionId,
    epoch: resume.epoch,
    tokenHash,
    route: attempt.route,
    principal: attempt.principal,
    ownerId: attempt.ownerId,
    nextTokenHash: attempt.nextTokenHash
  })
  const refusal = REFUSALS[claim.status]
  if (refusal !== undefined) {
    request.log.warn({ session: sessionTag(resume.sessionId), closeCode: refusal.code }, refusal.reason)
    return { kind: 'refuse', ...refusal }
  }
  if (claim.status !== 'claimed') return { kind: 'new' }
  // Hand the session back exactly as it was: previous owner, previous token, previous expiry.
  // The claim rotated the token to one only a welcome would carry, so without this the client's
  // next resume would be refused with 4403.
  const handBack = async (): Promise<void> => {
    await store.claim({
      sessionId: resume.sessionId,
      epoch: resume.epoch,
      tokenHash: attempt.nextTokenHash,
      route: attempt.route,
      principal: attempt.principal,
      ownerId: claim.previousOwner,
      nextTokenHash: tokenHash
    })
    if (!claim.previousAttached) await store.release(resume.sessionId, claim.previousOwner, attempt.sessionTimeout)
  }
  const position = localSession(sessions, resume.sessionId)?.outboundState ??
    { acked: claim.state.serverAcked, lastSeq: claim.state.serverSeq }
  if (resume.delivered >= position.acked && resume.delivered <= position.lastSeq) {
    return { kind: 'claimed', state: claim.state, delivered: resume.delivered, previousOwner: claim.previousOwner, handBack }
  }
  await handBack()
  return outcomeOfPosition(request, resume, position)
}

function outcomeOfPosition (request: FastifyRequest, resume: ResumePosition, position: OutboundPosition): ResumeOutcome {
  const session = sessionTag(resume.sessionId)
  if (resume.delivered < position.acked) {
    request.log.info({ session, delivered: resume.delivered, ...position }, 'resume refused: position behind the acknowledged one')
    return { kind: 'refuse', code: CloseCode.BAD_MESSAGE, reason: `resume position ${resume.delivered} is behind the acknowledged ${position.acked}` }
  }
  // Beyond what this side ever sent: it cannot continue exactly. Start afresh and say so; the old session is left to its owner.
  request.log.warn({ session, delivered: resume.delivered, ...position }, 'resume position beyond the session; starting a new one')
  return { kind: 'new' }
}
