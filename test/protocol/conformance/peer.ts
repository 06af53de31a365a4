/**
 * The ONE place where the conformance suite builds hellos and completes handshakes by hand
 * (docs/PROTOCOL.md, "Handshake and resume"). Every test that needs a session goes through
 * `openSession()` or `resumeSession()`, and every test that pipelines frames after a hello builds
 * that hello with `helloText()`, so that a change to the hello or the welcome (a new field, a new
 * version) is made here once. Tests that check the server's answer to a MALFORMED hello write it
 * raw, on purpose.
 */
import type { FastifyRequest } from 'fastify'
import type { FastifyReliableWsOptions, ReliableConnection, WsRouteOptions } from '../../../lib/index.js'
import type { ResumePosition, Welcome } from '../../../lib/protocol/handshake.js'
import { encodeHello } from '../../../lib/protocol/handshake.js'
import { PROTOCOL_VERSION, subprotocolFor } from '../../../lib/protocol/version.js'
import { startReliable } from '../../helpers/protocol-peer.js'
import type { CloseResult } from '../../helpers/server.js'
import type { PeerOptions, ProtocolPeer, ServerSide } from '../../helpers/protocol-peer.js'

export { payloadOf } from '../../helpers/protocol-peer.js'
export type { ProtocolPeer, ServerSide } from '../../helpers/protocol-peer.js'

/** The version the server speaks (the newest), and the subprotocol that names it. */
export const VERSION = PROTOCOL_VERSION
export const SUBPROTOCOL_NAME = subprotocolFor(PROTOCOL_VERSION)

/** A session as a client holds it: enough to resume it. */
export interface Session {
  peer: ProtocolPeer
  welcome: Welcome
}

/** The hello a client sends: a fresh one, or a resume of `resume`. */
export function helloText (resume?: ResumePosition, version: number = VERSION): string {
  return encodeHello(resume === undefined ? { version } : { version, resume })
}

/** The resume position of `session` after its client delivered server messages up to `delivered`. */
export function positionOf (session: Session, delivered: number): ResumePosition {
  return { sessionId: session.welcome.sessionId, epoch: session.welcome.epoch, delivered, token: session.welcome.resumeToken }
}

/** Wait for the welcome, which must be the first frame the server sends. */
export async function readWelcome (peer: ProtocolPeer): Promise<Welcome> {
  const first = await peer.next()
  if (first.frame instanceof Error || first.frame.type !== 'W') throw new Error(`expected a welcome first, got ${String(first.raw)}`)
  const { type: _type, ...welcome } = first.frame
  return welcome
}

/** Open a connection and a new session (hello without resume). */
export async function openSession (server: ServerSide, options?: PeerOptions): Promise<Session> {
  const peer = await server.peer(options)
  peer.sendRaw(helloText())
  return { peer, welcome: await readWelcome(peer) }
}

/**
 * Open a connection that resumes `previous` from server seq `delivered` (what its client delivered).
 * The welcome is returned as is: the test checks `resumed`.
 */
export async function resumeSession (server: ServerSide, previous: Session, delivered: number, options?: PeerOptions): Promise<Session> {
  const peer = await server.peer(options)
  peer.sendRaw(helloText(positionOf(previous, delivered)))
  return { peer, welcome: await readWelcome(peer) }
}

/** A server with one reliable route at `server.url` (see `startReliable`). */
export function startServer (
  routeOptions: WsRouteOptions = { reliable: true },
  pluginOptions: FastifyReliableWsOptions = {},
  setup?: (connection: ReliableConnection, request: FastifyRequest) => void | Promise<void>
): Promise<ServerSide> {
  return startReliable(routeOptions, pluginOptions, setup)
}

/** The seq and payload of the next frame of `type`, as `seq:payload` (`seq,ref:payload` for answers). */
export async function nextSequenced (peer: ProtocolPeer, type: 'D' | 'Q' | 'R' | 'E', ms?: number): Promise<string> {
  const entry = await peer.nextOfType(type, ms)
  const frame = entry.frame as { seq: number, ref: number, payload: string | Uint8Array }
  const payload = typeof frame.payload === 'string' ? frame.payload : Buffer.from(frame.payload).toString()
  return type === 'R' || type === 'E' ? `${frame.seq},${frame.ref}:${payload}` : `${frame.seq}:${payload}`
}

/** The seq of the next ack. */
export async function nextAck (peer: ProtocolPeer, ms?: number): Promise<number> {
  const entry = await peer.nextOfType('A', ms)
  return (entry.frame as { seq: number }).seq
}

/** Try to resume `previous` from `delivered` where the server must refuse: the close it got, after checking no frame came. */
export async function refusedResume (server: ServerSide, previous: Session, delivered: number, options?: PeerOptions): Promise<CloseResult> {
  const peer = await server.peer(options)
  peer.sendRaw(helloText(positionOf(previous, delivered)))
  const closed = await peer.closed()
  if (peer.received.length > 0) throw new Error(`expected a refusal, got ${String(peer.received[0].raw)}`)
  return closed
}
