import type { FastifyRequest } from 'fastify'
import type { ResolvedRouteSettings } from './options.js'
import type { UpgradeTracker } from './upgrade-tracker.js'
import { checkOrigin } from './origin-policy.js'
import {
  FRWS_ERR_ORIGIN_FORBIDDEN, FRWS_ERR_ORIGIN_MISSING, FRWS_ERR_SHUTTING_DOWN, FRWS_ERR_TOO_MANY_CONNECTIONS
} from './errors.js'

/** What admission needs to know about the plugin's current state. */
export interface AdmissionState {
  readonly closing: boolean
  readonly maxConnections: number
  /** Open connections plus upgrades in progress, this one included. */
  readonly load: number
  readonly upgrades: UpgradeTracker
}

/**
 * Build the route-level `onRequest` hook that decides an upgrade before any handshake:
 * 503 while shutting down or past `maxConnections`, 403 for a foreign or missing Origin
 * (cross-site WebSocket hijacking).
 */
export function createAdmissionHook (state: AdmissionState, settings: ResolvedRouteSettings) {
  return async function admitUpgrade (request: FastifyRequest): Promise<void> {
    if (!request.ws) return
    state.upgrades.retime(request.raw, settings.handshakeTimeout)
    if (state.closing) throw new FRWS_ERR_SHUTTING_DOWN()
    if (state.load > state.maxConnections) {
      request.log.warn({ maxConnections: state.maxConnections }, 'websocket upgrade refused: too many connections')
      throw new FRWS_ERR_TOO_MANY_CONNECTIONS(state.maxConnections)
    }
    const verdict = await checkOrigin(settings.originPredicate, settings.allowMissingOrigin, request)
    if (verdict === 'missing') throw new FRWS_ERR_ORIGIN_MISSING()
    if (verdict === 'forbidden') {
      request.log.info({ origin: request.headers.origin }, 'websocket upgrade refused: origin not allowed')
      throw new FRWS_ERR_ORIGIN_FORBIDDEN(String(request.headers.origin))
    }
  }
}
