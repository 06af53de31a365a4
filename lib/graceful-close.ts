import type { FastifyBaseLogger } from 'fastify'
import type { ConnectionRegistry } from './registry.js'
import type { HeldSockets } from './held-sockets.js'
import { CloseCode, CloseReason } from './protocol/close-codes.js'

/** After terminating, sockets close within a few ticks; this only bounds a pathological case. */
export const TERMINATE_GRACE = 1000

/**
 * Close every connection with 1001, and every held socket outside the registry that is still open
 * (awaiting a reliable hello, the app's own @fastify/websocket routes) too; wait for the close
 * handshakes, at most `closeTimeout` ms; then terminate the connections left and destroy every
 * socket still held (refused or replaced sockets still closing, upgrades still in their hooks).
 * Resolves when nothing is held any more or {@link TERMINATE_GRACE} ran out after the deadline,
 * so `fastify.close()` never hangs on a peer that ignores the close frame.
 */
export async function closeAllGracefully (
  registry: ConnectionRegistry,
  held: HeldSockets,
  closeTimeout: number,
  log: FastifyBaseLogger
): Promise<void> {
  if (registry.size === 0 && held.size === 0) return
  log.info({ connections: registry.size, sockets: held.size, closeTimeout }, 'closing websocket connections')
  for (const connection of registry) {
    connection.closeWithCause(CloseCode.GOING_AWAY, CloseReason[CloseCode.GOING_AWAY], 'shutdown')
  }
  held.closeOpen(CloseCode.GOING_AWAY, CloseReason[CloseCode.GOING_AWAY])
  if (await allClosedWithin(registry, held, closeTimeout)) return
  log.warn({ connections: registry.size, sockets: held.size }, 'terminating websocket sockets that ignored the close frame')
  for (const connection of registry) connection.terminateWithCause('shutdown')
  held.destroyAll()
  await allClosedWithin(registry, held, TERMINATE_GRACE)
}

/** True when the registry emptied and no socket is held any more within `timeout` ms. */
async function allClosedWithin (registry: ConnectionRegistry, held: HeldSockets, timeout: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<false>((resolve) => { timer = setTimeout(resolve, timeout, false) })
  try {
    return await Promise.race([Promise.all([registry.whenEmpty(), held.whenEmpty()]).then(() => true), expired])
  } finally {
    clearTimeout(timer)
  }
}
