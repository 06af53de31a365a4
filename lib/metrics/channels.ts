/**
 * The plugin's `node:diagnostics_channel` channels (docs/METRICS.md): every state change is
 * published here, so any telemetry system can listen. A message is built and published only when
 * its channel has subscribers; with nobody listening, a call site costs one property read.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import type { CloseCause } from '../connection.js'

/** The name of every channel the plugin publishes on. */
export const CHANNEL_NAMES = {
  connectionOpen: 'fastify-reliable-ws:connection:open',
  connectionClose: 'fastify-reliable-ws:connection:close',
  sessionSuspend: 'fastify-reliable-ws:session:suspend',
  sessionResume: 'fastify-reliable-ws:session:resume',
  sessionEnd: 'fastify-reliable-ws:session:end',
  resumeOutcome: 'fastify-reliable-ws:resume:outcome',
  heartbeatRtt: 'fastify-reliable-ws:heartbeat:rtt',
  heartbeatTimeout: 'fastify-reliable-ws:heartbeat:timeout',
  limitHit: 'fastify-reliable-ws:limit:hit',
  admissionRefused: 'fastify-reliable-ws:admission:refused',
  messageIn: 'fastify-reliable-ws:message:in',
  messageOut: 'fastify-reliable-ws:message:out'
} as const

/** What every connection-level message carries. */
export interface ConnectionMessage {
  /** The plugin registration: the random prefix of its connection ids (several apps may share a process). */
  serverId: string
  /** The connection's id (on reliable routes, the session's connection). */
  connectionId: string
  /** The route path the connection came in on, e.g. `/ws`. */
  route: string
}

/** `connection:open`: a socket became a connection (plain), started a reliable session, or resumed one. */
export interface ConnectionOpenMessage extends ConnectionMessage {
  /** True on a reliable route. */
  reliable: boolean
  /** Reliable routes: the socket resumed an existing session (on this node or taken over from the store). */
  resumed: boolean
}

/** `connection:close`: a connection's socket closed, whatever the cause (a reliable session may live on, suspended). */
export interface ConnectionCloseMessage extends ConnectionMessage {
  reliable: boolean
  /** The close code, as the `close` / `suspend` event reports it. */
  code: number
  reason: string
  cause: CloseCause
}

/** `session:suspend`: a reliable session lost its socket and waits for a resume. */
export interface SessionSuspendMessage extends ConnectionMessage {
  code: number
  cause: CloseCause
}

/** `session:resume`: a reliable session continues on a new socket. */
export interface SessionResumeMessage extends ConnectionMessage {
  /** True when this node took the session over from the store (it began on another node or before a restart). */
  fromStore: boolean
}

/** `session:end`: a reliable session is over on this node (the `close` event of a reliable connection). */
export interface SessionEndMessage extends ConnectionMessage {
  code: number
  reason: string
  cause: CloseCause
}

/** How a resume hello ended: resumed, started afresh (`resumed: false`), or refused with a close code. */
export type ResumeOutcome = 'resumed' | 'continuity_lost' | 'refused'

/** `resume:outcome`: the answer to a hello that asked to resume. */
export interface ResumeOutcomeMessage {
  serverId: string
  route: string
  outcome: ResumeOutcome
  /** The close code of a refusal (4400, 4401, 4403, 4421, 4507); `undefined` otherwise. */
  code: number | undefined
}

/** `heartbeat:rtt`: a protocol pong answered the heartbeat's ping. */
export interface HeartbeatRttMessage extends ConnectionMessage {
  /** Round trip from the ping to its pong, in ms (the connection's `lastRtt`). */
  rtt: number
}

/** `heartbeat:timeout`: the heartbeat ended a connection. */
export interface HeartbeatTimeoutMessage extends ConnectionMessage {
  /** `pong`: nothing arrived within `pongTimeout` of a ping (terminated); `idle`: no message within `idleTimeout` (4000). */
  timeout: 'pong' | 'idle'
}

/** The limit behind a `limit:hit`. */
export type LimitName =
  | 'maxBufferedBytes' | 'drainTimeout' | 'rateLimit' | 'maxRequestsInFlight'
  | 'maxUnacked' | 'maxSessionBytes' | 'maxTotalBytes' | 'maxSuspended' | 'maxSuspendedPerAddress'

/** `limit:hit`: a limit or the session budget closed a connection or ended a session. */
export interface LimitHitMessage {
  serverId: string
  /** `undefined` when a reliable handshake was refused before any connection existed (4507). */
  connectionId: string | undefined
  route: string
  /** 4420 slow consumer, 4429 rate limited, 4507 session shed, 4413 session buffer overflow. */
  code: number
  limit: LimitName
}

/** The admission limit behind an `admission:refused`. */
export type AdmissionLimit = 'shuttingDown' | 'upgradeRate' | 'maxConnectionsPerAddress' | 'maxConnections'

/** `admission:refused`: an upgrade request was answered with plain HTTP (503 or 429) before any handshake. */
export interface AdmissionRefusedMessage {
  serverId: string
  route: string
  statusCode: 503 | 429
  limit: AdmissionLimit
}

/** `message:in` / `message:out`: one WebSocket message read or written (reliable control frames included). */
export interface MessageTrafficMessage extends ConnectionMessage {
  /** Payload bytes of the message (for reliable routes, the whole frame). */
  bytes: number
}

/** A channel with the type of what it carries. */
export interface TypedChannel<Message> extends diagnosticsChannel.Channel {
  publish: (message: Message) => void
}

function channel<Message> (name: string): TypedChannel<Message> {
  return diagnosticsChannel.channel(name) as TypedChannel<Message>
}

/** The channels themselves, for `subscribe()` and for the plugin's call sites. */
export const channels = {
  connectionOpen: channel<ConnectionOpenMessage>(CHANNEL_NAMES.connectionOpen),
  connectionClose: channel<ConnectionCloseMessage>(CHANNEL_NAMES.connectionClose),
  sessionSuspend: channel<SessionSuspendMessage>(CHANNEL_NAMES.sessionSuspend),
  sessionResume: channel<SessionResumeMessage>(CHANNEL_NAMES.sessionResume),
  sessionEnd: channel<SessionEndMessage>(CHANNEL_NAMES.sessionEnd),
  resumeOutcome: channel<ResumeOutcomeMessage>(CHANNEL_NAMES.resumeOutcome),
  heartbeatRtt: channel<HeartbeatRttMessage>(CHANNEL_NAMES.heartbeatRtt),
  heartbeatTimeout: channel<HeartbeatTimeoutMessage>(CHANNEL_NAMES.heartbeatTimeout),
  limitHit: channel<LimitHitMessage>(CHANNEL_NAMES.limitHit),
  admissionRefused: channel<AdmissionRefusedMessage>(CHANNEL_NAMES.admissionRefused),
  messageIn: channel<MessageTrafficMessage>(CHANNEL_NAMES.messageIn),
  messageOut: channel<MessageTrafficMessage>(CHANNEL_NAMES.messageOut)
} as const
