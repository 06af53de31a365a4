import type { FastifyRequest } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import type { ConnectionInit, WsMessage } from '../connection.js'
import { WsTransport } from '../transport/ws-transport.js'
import { batchWrites } from '../write-batcher.js'
import { DeadlineQueue } from '../deadline-queue.js'
import type { DeadlineEntry } from '../deadline-queue.js'
import type { ResolvedRouteSettings } from '../options.js'
import { closeWithinBound } from '../bounded-close.js'
import { CloseCode, CloseReason } from '../protocol/close-codes.js'
import { decodeFrame } from '../protocol/frames.js'
import type { HelloFrame } from '../protocol/frames.js'
import { encodeWelcome } from '../protocol/handshake.js'
import { SUPPORTED_VERSIONS, versionOfSubprotocol } from '../protocol/version.js'
import { ProtocolError } from '../protocol/protocol-error.js'
import { ReliableConnection } from './reliable-connection.js'
import type { ReliableHost } from './reliable-connection.js'
import type { ResolvedReliable } from './reliable-options.js'
import { decideResume, localSession } from './resume-decision.js'
import { issueResumeToken } from './resume-token.js'
import { routeIdentity } from './route-identity.js'
import { SESSION_OVERHEAD } from './session-budget.js'
import type { SessionState } from '../store/session-store.js'
import { isStoreUnavailable } from '../store/store-errors.js'
import type { WsHandler } from '../server-state.js'
import {
  publishConnectionOpen, publishHandshakeLimitHit, publishResumeOutcome, publishSessionResume
} from '../metrics/publish.js'

/** What the handshake needs from the plugin's state. */
export interface ReliableServer extends ReliableHost {
  readonly maxPayload: number
  /** The registration's id, for the diagnostics channels. */
  readonly serverId: string
  /** Sessions that live on this node, attached or suspended, by session id. */
  readonly sessions: Map<string, ReliableConnection<object>>
  nextId (): string
  /** Build the init of a new connection for this socket and request. */
  connectionInit (request: FastifyRequest, settings: ResolvedRouteSettings): ConnectionInit
  /** Register a new connection and run the route handler. */
  start (connection: ReliableConnection<object>, request: FastifyRequest, handler: WsHandler<object>): void
  /** This node claimed a session it did not hold: tell the other nodes (the `fanout` option), so its previous owner lets go at once. */
  announceClaim (sessionId: string, previousOwner: string): void
  /** Take a suspended session off the expiry list. */
  unsuspend (connection: ReliableConnection<object>): void
  /** The `handshakeTimeout` of every socket waiting for its hello (see {@link createHelloDeadlines}). */
  readonly helloDeadlines: HelloDeadlines
}

/** Refuse the socket: a peer that ignores the close frame is terminated after REFUSED_CLOSE_TIMEOUT, not ws's 30 s. */
const closeWith = closeWithinBound

/** A frame that arrived after the hello, before the session was bound to the socket. */
type PipelinedFrame = [data: WsMessage, isBinary: boolean]

const kPendingHello = Symbol('fastify-reliable-ws.pendingHello')

type PendingSocket = WebSocket & { [kPendingHello]: PendingHello | undefined }

/**
 * One upgraded socket of a reliable route, from the upgrade until its session is bound: what the
 * shared listeners below need, and its entry in the server's queue of hello deadlines. One
 * object per handshake instead of a timer and a closure per listener (issue 12).
 */
class PendingHello implements DeadlineEntry<PendingHello> {
  deadlineAt = Number.NaN
  deadlinePrev: PendingHello | null = null
  deadlineNext: PendingHello | null = null
  /** Frames that followed the hello; `undefined` until the hello arrived. */
  pipelined: PipelinedFrame[] | undefined = undefined

  constructor (
    readonly server: ReliableServer, readonly socket: WebSocket, readonly request: FastifyRequest,
    readonly settings: ResolvedRouteSettings, readonly reliable: ResolvedReliable, readonly handler: WsHandler<object>
  ) {}
}

/** The queue of hello deadlines of one server (`handshakeTimeout` from the upgrade to the hello): one timer for all. */
export type HelloDeadlines = DeadlineQueue<PendingHello>

/** Build a server's {@link HelloDeadlines}: a socket whose hello did not come in time is closed with 4408. */
export function createHelloDeadlines (): HelloDeadlines {
  return new DeadlineQueue<PendingHello>((pending) => closeWith(pending.socket, CloseCode.HANDSHAKE_TIMEOUT, 'handshake timeout'))
}

/**
 * Run the reliable-mode handshake on a freshly upgraded socket (docs/PROTOCOL.md, "Handshake and
 * resume"): wait for the hello within `handshakeTimeout`, create or claim the session (checking
 * its resume token, route and principal), answer with the welcome and a new resume token, replay
 * what the client lacks, then hand over to the connection. Frames the client pipelined after its
 * hello are kept and processed in order right after the welcome ([R-HS-6]).
 */
export function acceptReliable (
  server: ReliableServer, socket: WebSocket, request: FastifyRequest,
  settings: ResolvedRouteSettings, reliable: ResolvedReliable, handler: WsHandler<object>
): void {
  socket.removeAllListeners('error')
  const pending = new PendingHello(server, socket, request, settings, reliable, handler)
  ;(socket as PendingSocket)[kPendingHello] = pending
  server.helloDeadlines.add(pending, settings.handshakeTimeout)
  socket.on('error', onHandshakeError)
  socket.on('close', onHandshakeClose)
  socket.on('message', onHandshakeMessage)
}

// The listeners every pending socket shares; each finds its handshake through a symbol on the socket.

function onHandshakeError (this: WebSocket, error: Error): void {
  (this as PendingSocket)[kPendingHello]?.request.log.debug({ err: error }, 'websocket error during the reliable handshake')
}

function onHandshakeClose (this: WebSocket): void {
  const pending = (this as PendingSocket)[kPendingHello]
  if (pending !== undefined) pending.server.helloDeadlines.remove(pending)
}

function onHandshakeMessage (this: WebSocket, data: RawData, isBinary: boolean): void {
  const pending = (this as PendingSocket)[kPendingHello]
  if (pending === undefined) return
  if (pending.pipelined !== undefined) {
    // Hold further reads until the session is bound; what was already read waits in `pipelined`
    // (frames of the same TCP chunk still arrive after pause(): keep them, never drop them).
    // Paused only once a frame follows the hello: most clients wait for the welcome, and a
    // pause and resume cost two system calls per handshake (issue 12).
    if (pending.pipelined.length === 0) this.pause()
    pending.pipelined.push([isBinary ? data as Buffer : data.toString(), isBinary])
    return
  }
  pending.pipelined = []
  pending.server.helloDeadlines.remove(pending)
  void completeHandshake(pending, data, isBinary)
}

/** From here the connection reads the socket: the handshake's listeners go, the frames that followed the hello are handed over. */
function takePipelined (pending: PendingHello): PipelinedFrame[] {
  pending.socket.removeListener('message', onHandshakeMessage)
  return pending.pipelined ?? []
}

/**
 * The handshake is over, bound or refused: drop its listeners and let go of the request. A
 * refused socket, which nobody else listens to, keeps the error listener (and what it logs with).
 */
function finishHandshake (pending: PendingHello): void {
  const socket = pending.socket
  socket.removeListener('message', onHandshakeMessage)
  socket.removeListener('close', onHandshakeClose)
  socket.removeListener('error', onHandshakeError)
  if (socket.listenerCount('error') === 0) socket.on('error', onHandshakeError)
  else (socket as PendingSocket)[kPendingHello] = undefined
}

/** The route path of an upgrade request, as connections report it. */
function routePath (request: FastifyRequest): string {
  return request.routeOptions.url ?? request.url
}

function parseHelloFrame (data: RawData, isBinary: boolean): HelloFrame {
  if (isBinary) throw new ProtocolError(CloseCode.BAD_MESSAGE, 'the first frame must be a text hello frame')
  const frame = decodeFrame(data.toString(), { sender: 'client' })
  if (frame.type !== 'H') throw new ProtocolError(CloseCode.BAD_MESSAGE, 'the first frame must be a hello frame')
  return frame
}

/** The version check of [R-TR-3]: a connection that selected `frws.v<N>` must say hello with version N. */
function subprotocolMismatch (socket: WebSocket, version: number): ProtocolError | undefined {
  const selected = versionOfSubprotocol(socket.protocol)
  if (selected === undefined || selected === version) return undefined
  return new ProtocolError(CloseCode.UNSUPPORTED_VERSION,
    `hello version ${version} does not match the subprotocol ${socket.protocol} (supported: ${SUPPORTED_VERSIONS.join(', ')})`)
}

/** Answer the hello; whatever happens, the handshake's listeners are gone afterwards. */
async function completeHandshake (pending: PendingHello, data: RawData, isBinary: boolean): Promise<void> {
  try {
    await answerHello(pending, data, isBinary)
  } catch (error) {
    const { request, socket } = pending
    // The store cannot be reached (issue 9): refuse the session for now; the client retries later.
    if (isStoreUnavailable(error)) {
      request.log.warn({ err: error }, 'reliable session refused: session store unavailable')
      closeWith(socket, CloseCode.TRY_AGAIN_LATER, 'session store unavailable')
    } else {
      request.log.error({ err: error }, 'reliable handshake failed')
      closeWith(socket, CloseCode.INTERNAL_ERROR, 'internal error')
    }
  } finally {
    finishHandshake(pending)
  }
}

async function answerHello (pending: PendingHello, data: RawData, isBinary: boolean): Promise<void> {
  const { server, socket, request, settings, reliable, handler } = pending
  let hello: HelloFrame
  try {
    hello = parseHelloFrame(data, isBinary)
    const mismatch = subprotocolMismatch(socket, hello.version)
    if (mismatch !== undefined) throw mismatch
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error
    request.log.info({ err: error }, 'reliable handshake refused')
    closeWith(socket, error.closeCode, error.message)
    return
  }
  // No await without a principal function: a fresh session then meets its first await at the store.
  const principal = reliable.principal === undefined ? null : ((await reliable.principal(request)) ?? null)
  if (socket.readyState !== 1) return
  const store = server.store
  const ownerId = server.nextId()
  let state: SessionState | undefined
  let clientDelivered = 0
  let previousOwner: string | undefined
  let handBack: (() => Promise<void>) | undefined

  const route = routeIdentity(request)
  // Every welcome hands out a new token; the store keeps only its hash.
  const issued = issueResumeToken()

  if (hello.resume !== undefined) {
    const outcome = await decideResume(store, server.sessions, request, {
      resume: hello.resume, route, principal, ownerId, nextTokenHash: issued.hash, sessionTimeout: reliable.sessionTimeout
    })
    if (outcome.kind === 'refuse') {
      publishResumeOutcome(server.serverId, routePath(request), 'refused', outcome.code)
      closeWith(socket, outcome.code, outcome.reason)
      return
    }
    if (outcome.kind === 'claimed') {
      state = outcome.state
      clientDelivered = outcome.delivered
      previousOwner = outcome.previousOwner
      handBack = outcome.handBack
    }
  }
  if (socket.readyState !== 1) {
    await handBack?.()
    return
  }
  const resumed = state !== undefined
  state ??= await store.create({ route, principal, ownerId, tokenHash: issued.hash })
  const local = resumed ? localSession(server.sessions, state.sessionId) : undefined
  // Checked after the last await, so the new connection charges its record before any other
  // handshake can take the room.
  if (local === undefined && !server.reclaim(SESSION_OVERHEAD)) {
    // Not even a session record fits after shedding every suspended session: refuse this one plainly.
    request.log.warn({ limit: 'maxTotalBytes', usedBytes: server.budget.usedBytes }, 'reliable session refused: session budget exceeded')
    publishHandshakeLimitHit(server.serverId, routePath(request), CloseCode.SESSION_SHED, 'maxTotalBytes')
    if (hello.resume !== undefined) publishResumeOutcome(server.serverId, routePath(request), 'refused', CloseCode.SESSION_SHED)
    closeWith(socket, CloseCode.SESSION_SHED, CloseReason[CloseCode.SESSION_SHED])
    if (handBack !== undefined) await handBack()
    else await store.delete(state.sessionId, ownerId)
    return
  }
  if (hello.resume !== undefined) publishResumeOutcome(server.serverId, routePath(request), resumed ? 'resumed' : 'continuity_lost')

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

  // From here the connection reads the socket; what came after the hello is processed first, in order.
  const pipelined = takePipelined(pending)
  // The welcome, the replay and whatever the handler or the pipelined frames write in this turn leave in one write.
  batchWrites(socket)
  if (local !== undefined) {
    // The session lives on this node: move it to the new socket; the handler does not run again.
    server.unsuspend(local)
    local.resumeOn(new WsTransport(socket), ownerId)
    publishConnectionOpen(local, true, true)
    publishSessionResume(local, false)
    socket.send(welcome(local.delivered))
    local.startStreaming(clientDelivered)
    local.log.debug({ session: local.sessionTag }, 'reliable session resumed')
    local.emit('resume')
    for (const [frame, binary] of pipelined) local.receive(frame, binary)
    resumeIfPaused(socket)
    return
  }

  if (previousOwner !== undefined) server.announceClaim(state.sessionId, previousOwner)
  const connection = new ReliableConnection<object>(
    new WsTransport(socket), server.connectionInit(request, settings), state, ownerId, reliable, server, resumed
  )
  server.sessions.set(state.sessionId, connection)
  publishConnectionOpen(connection, true, resumed)
  if (resumed) publishSessionResume(connection, true)
  socket.send(welcome(state.clientDelivered))
  connection.startStreaming(clientDelivered)
  server.start(connection, request, handler)
  for (const [frame, binary] of pipelined) connection.receive(frame, binary)
  resumeIfPaused(socket)
}

/** Reading was paused when frames followed the hello; most clients wait for the welcome, and then there is nothing to undo. */
function resumeIfPaused (socket: WebSocket): void {
  if (socket.isPaused) socket.resume()
}
