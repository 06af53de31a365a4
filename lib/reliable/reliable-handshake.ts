import type { FastifyRequest } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import type { ConnectionInit } from '../connection.js'
import type { ResolvedRouteSettings } from '../options.js'
import { closeWithinBound } from '../bounded-close.js'
import { CloseCode, CloseReason } from '../protocol/close-codes.js'
import { decodeFrame } from '../protocol/frames.js'
import type { HelloFrame } from '../protocol/frames.js'
import { encodeWelcome } from '../protocol/handshake.js'
import { ProtocolError } from '../protocol/protocol-error.js'
import { ReliableConnection } from './reliable-connection.js'
import type { ReliableHost } from './reliable-connection.js'
import type { ResolvedReliable } from './reliable-options.js'
import { hashResumeToken, issueResumeToken } from './resume-token.js'
import { routeIdentity } from './route-identity.js'
import { SESSION_OVERHEAD } from './session-budget.js'
import type { ClaimResult, SessionState } from './session-store.js'
import { sessionTag } from './session-tag.js'
import type { WsHandler } from '../server-state.js'

/** What the handshake needs from the plugin's state. */
export interface ReliableServer extends ReliableHost {
  readonly maxPayload: number
  /** Sessions that live on this node, attached or suspended, by session id. */
  readonly sessions: Map<string, ReliableConnection<object>>
  nextId (): string
  /** Build the init of a new connection for this socket and request. */
  connectionInit (request: FastifyRequest, settings: ResolvedRouteSettings): ConnectionInit
  /** Register a new connection and run the route handler. */
  start (connection: ReliableConnection<object>, request: FastifyRequest, handler: WsHandler<object>): void
  /** Take a suspended session off the expiry list. */
  unsuspend (connection: ReliableConnection<object>): void
}

/** Refuse the socket: a peer that ignores the close frame is terminated after REFUSED_CLOSE_TIMEOUT, not ws's 30 s. */
function closeWith (socket: WebSocket, code: number, reason: string): void {
  closeWithinBound(socket, code, reason)
}

// A refused claim closes the socket; the session stays as it was for its owner.
const REFUSALS: Partial<Record<ClaimResult['status'], { code: number, reason: string }>> = {
  'token-mismatch': { code: CloseCode.RESUME_REFUSED, reason: 'resume refused: wrong or superseded resume token' },
  'wrong-route': { code: CloseCode.WRONG_ROUTE, reason: 'session belongs to another route' },
  forbidden: { code: CloseCode.UNAUTHORIZED, reason: 'session belongs to another principal' }
}

/**
 * Run the reliable-mode handshake on a freshly upgraded socket (docs/PROTOCOL.md, "Handshake and
 * resume"): wait for the hello within `handshakeTimeout`, create or claim the session (checking
 * its resume token, route and principal), answer with the welcome and a new resume token, replay
 * what the client lacks, then hand over to the connection.
 */
export function acceptReliable (
  server: ReliableServer, socket: WebSocket, request: FastifyRequest,
  settings: ResolvedRouteSettings, reliable: ResolvedReliable, handler: WsHandler<object>
): void {
  socket.removeAllListeners('error')
  const onError = (error: Error): void => request.log.debug({ err: error }, 'websocket error during the reliable handshake')
  const timer = setTimeout(closeWith, settings.handshakeTimeout, socket, CloseCode.HANDSHAKE_TIMEOUT, 'handshake timeout')
  timer.unref()
  const onClose = (): void => clearTimeout(timer)
  socket.on('error', onError)
  socket.once('close', onClose)
  socket.once('message', (data: RawData, isBinary: boolean) => {
    clearTimeout(timer)
    // The client sends nothing before the welcome; hold anything that comes until the session is bound.
    socket.pause()
    completeHandshake(server, socket, request, settings, reliable, handler, data, isBinary)
      .catch((error: unknown) => {
        request.log.error({ err: error }, 'reliable handshake failed')
        closeWith(socket, CloseCode.INTERNAL_ERROR, 'internal error')
      })
      .finally(() => {
        socket.removeListener('close', onClose)
        socket.removeListener('error', onError)
        if (socket.listenerCount('error') === 0) socket.on('error', onError)
      })
  })
}

function parseHelloFrame (data: RawData, isBinary: boolean): HelloFrame {
  if (isBinary) throw new ProtocolError(CloseCode.BAD_MESSAGE, 'the first frame must be a text hello frame')
  const frame = decodeFrame(data.toString(), { sender: 'client' })
  if (frame.type !== 'H') throw new ProtocolError(CloseCode.BAD_MESSAGE, 'the first frame must be a hello frame')
  return frame
}

async function completeHandshake (
  server: ReliableServer, socket: WebSocket, request: FastifyRequest,
  settings: ResolvedRouteSettings, reliable: ResolvedReliable, handler: WsHandler<object>,
  data: RawData, isBinary: boolean
): Promise<void> {
  let hello: HelloFrame
  try {
    hello = parseHelloFrame(data, isBinary)
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error
    request.log.info({ err: error }, 'reliable handshake refused')
    closeWith(socket, error.closeCode, error.message)
    return
  }
  const principal = (await reliable.principal?.(request)) ?? null
  if (socket.readyState !== 1) return
  const store = server.store
  const ownerId = server.nextId()
  let state: SessionState | undefined
  let clientDelivered = 0
  let local: ReliableConnection<object> | undefined

  const route = routeIdentity(request)
  // Every welcome hands out a new token; the store keeps only its hash.
  const issued = issueResumeToken()

  if (hello.resume !== undefined) {
    const claim = await store.claim({
      sessionId: hello.resume.sessionId,
      epoch: hello.resume.epoch,
      tokenHash: hashResumeToken(hello.resume.token),
      route,
      principal,
      ownerId,
      nextTokenHash: issued.hash
    })
    const refusal = REFUSALS[claim.status]
    if (refusal !== undefined) {
      request.log.warn({ session: sessionTag(hello.resume.sessionId), closeCode: refusal.code }, refusal.reason)
      closeWith(socket, refusal.code, refusal.reason)
      return
    }
    if (claim.status === 'claimed') {
      local = server.sessions.get(claim.state.sessionId)
      if (local?.isEnded === true) local = undefined
      const position = local?.outboundState ?? { acked: claim.state.serverAcked, lastSeq: claim.state.serverSeq }
      const delivered = hello.resume.delivered
      if (delivered < position.acked) {
        // The client claims less than it already acknowledged: it broke the rules (PROTOCOL.md, handshake step 5).
        local?.endSession(CloseCode.BAD_MESSAGE, 'resume position behind its own ack', 'error')
        await store.delete(claim.state.sessionId, ownerId)
        closeWith(socket, CloseCode.BAD_MESSAGE, `resume position ${delivered} is behind the acknowledged ${position.acked}`)
        return
      }
      if (delivered > position.lastSeq) {
        // Beyond what was sent: this side lost state. The session cannot continue exactly; start afresh and say so.
        request.log.warn({ session: sessionTag(claim.state.sessionId), delivered, ...position }, 'resume position beyond the session; starting a new one')
        local?.endSession(CloseCode.SESSION_REPLACED, 'session reset', 'replaced')
        local = undefined
        await store.delete(claim.state.sessionId, ownerId)
      } else {
        state = claim.state
        clientDelivered = delivered
      }
    }
  }
  if (socket.readyState !== 1) {
    if (state !== undefined) await store.release(state.sessionId, ownerId, reliable.sessionTimeout)
    return
  }
  const resumed = state !== undefined
  state ??= await store.create({ route, principal, ownerId, tokenHash: issued.hash })
  // Checked after the last await, so the new connection charges its record before any other
  // handshake can take the room.
  if (local === undefined && !server.reclaim(SESSION_OVERHEAD)) {
    // Not even a session record fits after shedding every suspended session: refuse this one plainly.
    request.log.warn({ limit: 'maxTotalBytes', usedBytes: server.budget.usedBytes }, 'reliable session refused: session budget exceeded')
    closeWith(socket, CloseCode.SESSION_SHED, CloseReason[CloseCode.SESSION_SHED])
    if (resumed) await store.release(state.sessionId, ownerId, reliable.sessionTimeout)
    else await store.delete(state.sessionId, ownerId)
    return
  }

  const welcome = (delivered: number): string => encodeWelcome({
    version: hello.version,
    sessionId: state.sessionId,
    epoch: state.epoch,
    resumeToken: issued.token,
    resumed,
    delivered,
    pingInterval: settings.heartbeatSettings.pingInterval,
    pongTimeout: settings.heartbeatSettings.pongTimeout,
    ackInterval: reliable.ackInterval,
    ackEvery: reliable.ackEvery,
    maxPayload: server.maxPayload,
    maxUnacked: reliable.maxUnacked,
    maxUnackedBytes: reliable.maxUnackedBytes,
    sessionTimeout: reliable.sessionTimeout
  })

  if (local !== undefined) {
    // The session lives on this node: move it to the new socket; the handler does not run again.
    server.unsuspend(local)
    local.resumeOn(socket, ownerId)
    socket.send(welcome(local.delivered))
    local.startStreaming(clientDelivered)
    socket.resume()
    local.log.debug({ session: local.sessionTag }, 'reliable session resumed')
    local.emit('resume')
    return
  }

  const connection = new ReliableConnection<object>(
    socket, server.connectionInit(request, settings), state, ownerId, reliable, server, resumed
  )
  server.sessions.set(state.sessionId, connection)
  socket.send(welcome(state.clientDelivered))
  connection.startStreaming(clientDelivered)
  server.start(connection, request, handler)
  socket.resume()
}
