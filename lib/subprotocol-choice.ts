/**
 * Which WebSocket subprotocol the server selects for an upgrade (ws's `handleProtocols`). Only a
 * reliable route selects `frws.v<N>`: on a plain route the reliable client then sees no subprotocol
 * on open and reports "not a reliable route" instead of a confusing protocol error.
 */
import type { IncomingMessage } from 'node:http'
import { answerSubprotocol, versionOfSubprotocol } from './protocol/version.js'

const reliableUpgrades = new WeakSet<IncomingMessage>()

/** Record that this upgrade request is for a reliable route (called by its `onRequest` hook). */
export function markReliableUpgrade (request: IncomingMessage): void {
  reliableUpgrades.add(request)
}

/**
 * A reliable route: `answerSubprotocol` (docs/PROTOCOL.md [R-TR-2]), never a name that is not
 * `frws.v<N>`. A plain route: ws's own rule (the first one offered), skipping our own names.
 */
export function chooseSubprotocol (offered: Set<string>, request: IncomingMessage): string | false {
  if (reliableUpgrades.has(request)) return answerSubprotocol(offered)
  for (const name of offered) if (versionOfSubprotocol(name) === undefined) return name
  return false
}
