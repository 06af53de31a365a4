import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ResolvedRouteSettings } from './options.js'
import { checkOrigin } from './origin-policy.js'
import {
  FRWS_ERR_HANDSHAKE_TIMEOUT, FRWS_ERR_ORIGIN_FORBIDDEN, FRWS_ERR_ORIGIN_MISSING,
  FRWS_ERR_SHUTTING_DOWN, FRWS_ERR_TOO_MANY_CONNECTIONS
} from './errors.js'

/** What admission needs to know about the plugin's current state. */
export interface AdmissionState {
  readonly closing: boolean
  readonly maxConnections: number
  /** Open connections plus upgrades in progress. */
  readonly load: number
  /** Upgrade requests between admission and open socket (they count against maxConnections). */
  readonly pendingUpgrades: Map<FastifyRequest['raw'], NodeJS.Timeout>
}

/**
 * Build the route-level `onRequest` hook that decides an upgrade before any handshake:
 * 503 while shutting down or at `maxConnections`, 403 for a foreign or missing Origin
 * (cross-site WebSocket hijacking), and a handshake timer for slow hooks.
 */
export function createAdmissionHook (state: AdmissionState, settings: ResolvedRouteSettings) {
  return async function admitUpgrade (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!request.ws) return
    if (state.closing) throw new FRWS_ERR_SHUTTING_DOWN()
    if (state.load >= state.maxConnections) {
      request.log.warn({ maxConnections: state.maxConnections }, 'websocket upgrade refused: too many connections')
      throw new FRWS_ERR_TOO_MANY_CONNECTIONS(state.maxConnections)
    }
    const verdict = await checkOrigin(settings.originPredicate, settings.allowMissingOrigin, request)
    if (verdict === 'missing') throw new FRWS_ERR_ORIGIN_MISSING()
    if (verdict === 'forbidden') {
      request.log.info({ origin: request.headers.origin }, 'websocket upgrade refused: origin not allowed')
      throw new FRWS_ERR_ORIGIN_FORBIDDEN(String(request.headers.origin))
    }
    const timer = setTimeout(onHandshakeTimeout, settings.handshakeTimeout, state, request, reply, settings.handshakeTimeout)
    timer.unref()
    state.pendingUpgrades.set(request.raw, timer)
  }
}

/** Forget an upgrade in progress: it opened, failed or was answered with an HTTP error. */
export function settleUpgrade (state: AdmissionState, raw: FastifyRequest['raw']): void {
  const timer = state.pendingUpgrades.get(raw)
  if (timer === undefined) return
  clearTimeout(timer)
  state.pendingUpgrades.delete(raw)
}

function onHandshakeTimeout (
  state: AdmissionState, request: FastifyRequest, reply: FastifyReply, timeout: number
): void {
  state.pendingUpgrades.delete(request.raw)
  const error = new FRWS_ERR_HANDSHAKE_TIMEOUT(timeout)
  request.log.warn({ err: error }, 'websocket upgrade timed out')
  const socket = request.raw.socket as import('node:net').Socket | undefined
  if (reply.sent || socket === undefined || socket.destroyed) return
  // The reply object may be mid-hook; answer on the raw socket, which Fastify has not touched yet.
  socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
  socket.destroySoon()
}
