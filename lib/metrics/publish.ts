/**
 * @internal The plugin's call sites for the channels of `channels.ts`: each builds its message only
 * when its channel has subscribers. Per-message call sites check `messageIn` / `messageOut`
 * `.hasSubscribers` themselves, so the hot path pays one property read and no call.
 */
import type { CloseCause, WsOutgoing } from '../connection.js'
import { channels } from './channels.js'
import type { AdmissionLimit, LimitName, ResumeOutcome } from './channels.js'

/** What a connection-level message is about. */
export interface MetricsSubject {
  readonly id: string
  readonly route: string
  readonly serverId: string
}

/** The channels checked on the hot path (one `hasSubscribers` read per message). */
export const { messageIn, messageOut } = channels

/** Call only when `messageIn.hasSubscribers`. */
export function publishMessageIn (subject: MetricsSubject, bytes: number): void {
  messageIn.publish({ serverId: subject.serverId, connectionId: subject.id, route: subject.route, bytes })
}

/** Call only when `messageOut.hasSubscribers`. */
export function publishMessageOut (subject: MetricsSubject, data: WsOutgoing): void {
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength
  messageOut.publish({ serverId: subject.serverId, connectionId: subject.id, route: subject.route, bytes })
}

/** `connection:open`: a socket became a connection, started a reliable session or resumed one. */
export function publishConnectionOpen (subject: MetricsSubject, reliable: boolean, resumed: boolean): void {
  if (!channels.connectionOpen.hasSubscribers) return
  channels.connectionOpen.publish({ serverId: subject.serverId, connectionId: subject.id, route: subject.route, reliable, resumed })
}

/** `connection:close`: the connection's socket closed (or, on a resume, was replaced). */
export function publishConnectionClose (subject: MetricsSubject, reliable: boolean, code: number, reason: string, cause: CloseCause): void {
  if (!channels.connectionClose.hasSubscribers) return
  channels.connectionClose.publish({ serverId: subject.serverId, connectionId: subject.id, route: subject.route, reliable, code, reason, cause })
}

/** `session:suspend`: a reliable session lost its socket. */
export function publishSessionSuspend (subject: MetricsSubject, code: number, cause: CloseCause): void {
  if (!channels.sessionSuspend.hasSubscribers) return
  channels.sessionSuspend.publish({ serverId: subject.serverId, connectionId: subject.id, route: subject.route, code, cause })
}

/** `session:resume`: a reliable session continues on a new socket. */
export function publishSessionResume (subject: MetricsSubject, fromStore: boolean): void {
  if (!channels.sessionResume.hasSubscribers) return
  channels.sessionResume.publish({ serverId: subject.serverId, connectionId: subject.id, route: subject.route, fromStore })
}

/** `session:end`: a reliable session is over on this node. */
export function publishSessionEnd (subject: MetricsSubject, code: number, reason: string, cause: CloseCause): void {
  if (!channels.sessionEnd.hasSubscribers) return
  channels.sessionEnd.publish({ serverId: subject.serverId, connectionId: subject.id, route: subject.route, code, reason, cause })
}

/** `resume:outcome`: how a hello that asked to resume was answered. */
export function publishResumeOutcome (serverId: string, route: string, outcome: ResumeOutcome, code?: number): void {
  if (!channels.resumeOutcome.hasSubscribers) return
  channels.resumeOutcome.publish({ serverId, route, outcome, code })
}

/** After a protocol pong: publishes the connection's `lastRtt` (ms), if the pong answered a ping. */
export function publishHeartbeatRtt (subject: MetricsSubject & { readonly lastRtt: number | undefined }): void {
  if (!channels.heartbeatRtt.hasSubscribers) return
  const rtt = subject.lastRtt
  if (rtt !== undefined) channels.heartbeatRtt.publish({ serverId: subject.serverId, connectionId: subject.id, route: subject.route, rtt })
}

/** `heartbeat:timeout`: the heartbeat ends the connection (no pong, or idle). */
export function publishHeartbeatTimeout (subject: MetricsSubject, timeout: 'pong' | 'idle'): void {
  if (!channels.heartbeatTimeout.hasSubscribers) return
  channels.heartbeatTimeout.publish({ serverId: subject.serverId, connectionId: subject.id, route: subject.route, timeout })
}

/** `limit:hit`: a limit or the session budget cuts this connection or ends its session. */
export function publishLimitHit (subject: MetricsSubject, code: number, limit: LimitName): void {
  if (!channels.limitHit.hasSubscribers) return
  channels.limitHit.publish({ serverId: subject.serverId, connectionId: subject.id, route: subject.route, code, limit })
}

/** A limit refused a reliable handshake before a connection existed. */
export function publishHandshakeLimitHit (serverId: string, route: string, code: number, limit: LimitName): void {
  if (!channels.limitHit.hasSubscribers) return
  channels.limitHit.publish({ serverId, connectionId: undefined, route, code, limit })
}

/** `admission:refused`: an upgrade was refused with 503 or 429 before the handshake. */
export function publishAdmissionRefused (serverId: string, route: string, statusCode: 503 | 429, limit: AdmissionLimit): void {
  if (!channels.admissionRefused.hasSubscribers) return
  channels.admissionRefused.publish({ serverId, route, statusCode, limit })
}
