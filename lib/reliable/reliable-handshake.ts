import type { FastifyRequest } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import type { ConnectionInit } from '../connection.js'
import type { ResolvedRouteSettings } from '../options.js'
import { CloseCode, truncateCloseReason } from '../protocol/close-codes.js'
import { decodeFrame } from '../protocol/frames.js'
import type { HelloFrame } from '../protocol/frames.js'
import { encodeWelcome } from '../protocol/handshake.js'
import type { ResumePosition } from '../protocol/handshake.js'
import { SUPPORTED_VERSIONS, versionOfSubprotocol } from '../protocol/version.js'
import { ProtocolError } from '../protocol/protocol-error.js'
import { ReliableConnection } from './reliable-connection.js'
import type { ReliableHost } from './reliable-connection.js'
import type { ResolvedReliable } from './reliable-options.js'
import type { SessionState } from './session-store.js'
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

function closeWith (socket: WebSocket, code: number, reason: string): void {
  // The socket may be paused for the handshake: it must read the peer's close frame to finish.
  if (socket.isPaused) socket.resume()
  if (socket.readyState <= 1) socket.close(code, truncateCloseReason(reason))
}

/** A frame that arrived after the hello, before the session was bound to the socket. */
type PipelinedFrame = [data: RawData, isBinary: boolean]

/**
 * Run the reliable-mode handshake on a freshly upgraded socket (docs/PROTOCOL.md, "Handshake and
 * resume"): wait for the hello within `handshakeTimeout`, create or claim the session, answer with
 * the welcome, replay what the client lacks, then hand over to the connection. Frames the client
 * pipelined after its hello are kept and processed in order right after the welcome ([R-HS-6]).
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
  let pipelined: PipelinedFrame[] | undefined
  const onMessage = (data: RawData, isBinary: boolean): void => {
    if (pipelined !== undefined) {
      // Frames of the same TCP chunk still arrive after pause(): keep them, never drop them.
      pipelined.push([data, isBinary])
      return
    }
    pipelined = []
    clearTimeout(timer)
    // Hold further reads until the session is bound; what was already read waits in `pipelined`.
    socket.pause()
    completeHandshake(server, socket, request, settings, reliable, handler, data, isBinary, () => {
      socket.removeListener('message', onMessage)
      return pipelined ?? []
    })
      .catch((error: unknown) => {
        request.log.error({ err: error }, 'reliable handshake failed')
        closeWith(socket, CloseCode.INTERNAL_ERROR, 'internal error')
      })
      .finally(() => {
        socket.removeListener('message', onMessage)
        socket.removeListener('close', onClose)
        socket.removeListener('error', onError)
        if (socket.listenerCount('error') === 0) socket.on('error', onError)
      })
  }
  socket.on('error', onError)
  socket.once('close', onClose)
  socket.on('message', onMessage)
}

function parseHelloFrame (data: RawData, isBinary: boolean): HelloFrame {
  if (isBinary) throw new ProtocolError(CloseCode.BAD_MESSAGE, 'the first frame must be a text hello frame')
  const frame = decodeFrame(data.toString(), { sender: 'client' })
  if (frame.type !== 'H') throw new ProtocolError(CloseCode.BAD_MESSAGE, 'the first frame must be a hello frame')
  return frame
}

/** What a resume attempt comes to; a refused or failed attempt leaves the session's owner untouched ([R-RS-4]). */
type ResumeOutcome =
  | { kind: 'refuse', code: number, reason: string }
  | { kind: 'new' }
  | { kind: 'claimed', state: SessionState, delivered: number }

/** Where the server stands in the server-to-client direction of a session. */
interface OutboundPosition { acked: number, lastSeq: number }

/** Check a resume position against the server's: `behind` its ack breaks the rules, `beyond` its log means lost state. */
function comparePosition (delivered: number, position: OutboundPosition): 'ok' | 'behind' | 'beyond' {
  if (delivered < position.acked) return 'behind'
  if (delivered > position.lastSeq) return 'beyond'
  return 'ok'
}

function localSession (server: ReliableServer, sessionId: string): ReliableConnection<object> | undefined {
  const local = server.sessions.get(sessionId)
  return local?.isEnded === true ? undefined : local
}

function outcomeOfPosition (request: FastifyRequest, check: 'behind' | 'beyond', delivered: number, position: OutboundPosition): ResumeOutcome {
  if (check === 'behind') {
    request.log.info({ delivered, ...position }, 'resume refused: position behind the acknowledged one')
    return { kind: 'refuse', code: CloseCode.BAD_MESSAGE, reason: `resume position ${delivered} is behind the acknowledged ${position.acked}` }
  }
  // Beyond what this side ever sent: it cannot continue exactly. Start afresh and say so; the old session is left to its owner.
  request.log.warn({ delivered, ...position }, 'resume position beyond the session; starting a new one')
  return { kind: 'new' }
}

/**
 * Decide a resume (PROTOCOL.md, handshake steps 4 and 5). Every check runs BEFORE the session is
 * claimed, so that an attempt that fails them (a stale client, or anyone who learnt the session id)
 * never disturbs the connection that owns the session. A check that fails only after the claim
 * (the owner acked meanwhile) gives the session back to its previous owner.
 */
async function decideResume (
  server: ReliableServer, request: FastifyRequest, reliable: ResolvedReliable,
  resume: ResumePosition, principal: string | null, ownerId: string
): Promise<ResumeOutcome> {
  const store = server.store
  const stored = await store.get(resume.sessionId)
  if (stored === undefined || stored.epoch !== resume.epoch) return { kind: 'new' }
  if (stored.principal !== principal) {
    request.log.warn('resume refused: the session belongs to another principal')
    return { kind: 'refuse', code: CloseCode.UNAUTHORIZED, reason: 'session belongs to another principal' }
  }
  const before = localSession(server, resume.sessionId)?.outboundState ?? { acked: stored.serverAcked, lastSeq: stored.serverSeq }
  const early = comparePosition(resume.delivered, before)
  if (early !== 'ok') return outcomeOfPosition(request, early, resume.delivered, before)

  const claim = await store.claim({ ...resume, principal, ownerId })
  if (claim.status === 'forbidden') {
    return { kind: 'refuse', code: CloseCode.UNAUTHORIZED, reason: 'session belongs to another principal' }
  }
  if (claim.status !== 'claimed') return { kind: 'new' }
  const position = localSession(server, resume.sessionId)?.outboundState ?? { acked: claim.state.serverAcked, lastSeq: claim.state.serverSeq }
  const late = comparePosition(resume.delivered, position)
  if (late === 'ok') return { kind: 'claimed', state: claim.state, delivered: resume.delivered }
  await store.claim({ ...resume, principal, ownerId: claim.previousOwner })
  if (!claim.previousAttached) await store.release(resume.sessionId, claim.previousOwner, reliable.sessionTimeout)
  return outcomeOfPosition(request, late, resume.delivered, position)
}

/** The version check of [R-TR-3]: a connection that selected `frws.v<N>` must say hello with version N. */
function subprotocolMismatch (socket: WebSocket, version: number): ProtocolError | undefined {
  const selected = versionOfSubprotocol(socket.protocol)
  if (selected === undefined || selected === version) return undefined
  return new ProtocolError(CloseCode.UNSUPPORTED_VERSION,
    `hello version ${version} does not match the subprotocol ${socket.protocol} (supported: ${SUPPORTED_VERSIONS.join(', ')})`)
}

async function completeHandshake (
  server: ReliableServer, socket: WebSocket, request: FastifyRequest,
  settings: ResolvedRouteSettings, reliable: ResolvedReliable, handler: WsHandler<object>,
  data: RawData, isBinary: boolean, takePipelined: () => PipelinedFrame[]
): Promise<void> {
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
  const principal = (await reliable.principal?.(request)) ?? null
  if (socket.readyState !== 1) return
  const store = server.store
  const ownerId = server.nextId()
  let state: SessionState | undefined
  let clientDelivered = 0

  if (hello.resume !== undefined) {
    const outcome = await decideResume(server, request, reliable, hello.resume, principal, ownerId)
    if (outcome.kind === 'refuse') {
      closeWith(socket, outcome.code, outcome.reason)
      return
    }
    if (outcome.kind === 'claimed') {
      state = outcome.state
      clientDelivered = outcome.delivered
    }
  }
  if (socket.readyState !== 1) {
    if (state !== undefined) await store.release(state.sessionId, ownerId, reliable.sessionTimeout)
    return
  }
  const resumed = state !== undefined
  state ??= await store.create({ principal, ownerId })
  const local = resumed ? localSession(server, state.sessionId) : undefined

  const welcome = (delivered: number): string => encodeWelcome({
    version: hello.version,
    sessionId: state.sessionId,
    epoch: state.epoch,
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
  const pipelined = takePipelined()
  if (local !== undefined) {
    // The session lives on this node: move it to the new socket; the handler does not run again.
    server.unsuspend(local)
    local.resumeOn(socket, ownerId)
    socket.send(welcome(local.delivered))
    local.startStreaming(clientDelivered)
    local.log.debug({ sessionId: local.sessionId }, 'reliable session resumed')
    local.emit('resume')
    for (const [frame, binary] of pipelined) local.receive(frame, binary)
    socket.resume()
    return
  }

  const connection = new ReliableConnection<object>(
    socket, server.connectionInit(request, settings), state, ownerId, reliable, server, resumed
  )
  server.sessions.set(state.sessionId, connection)
  socket.send(welcome(state.clientDelivered))
  connection.startStreaming(clientDelivered)
  server.start(connection, request, handler)
  for (const [frame, binary] of pipelined) connection.receive(frame, binary)
  socket.resume()
}
