import type { FastifyBaseLogger } from 'fastify'
import type { ConnectionRegistry } from './registry.js'
import { CloseCode, CloseReason } from './protocol/close-codes.js'

/** After terminating, sockets close within a few ticks; this only bounds a pathological case. */
const TERMINATE_GRACE = 1000

/**
 * Close every connection with 1001 and wait for the close handshakes, at most `closeTimeout` ms;
 * then terminate what is left. Resolves when the registry is empty or the grace period ran out,
 * so `fastify.close()` never hangs on a peer that ignores the close frame.
 */
export async function closeAllGracefully (
  registry: ConnectionRegistry,
  closeTimeout: number,
  log: FastifyBaseLogger
): Promise<void> {
  const count = registry.size
  if (count === 0) return
  log.info({ connections: count, closeTimeout }, 'closing websocket connections')
  for (const connection of registry) {
    connection.closeWithCause(CloseCode.GOING_AWAY, CloseReason[CloseCode.GOING_AWAY], 'shutdown')
  }
  if (await waitUntilEmpty(registry, closeTimeout)) return
  log.warn({ connections: registry.size }, 'terminating websocket connections that ignored the close frame')
  for (const connection of registry) connection.terminateWithCause('shutdown')
  await waitUntilEmpty(registry, TERMINATE_GRACE)
}

/** True when the registry emptied within `timeout` ms. */
async function waitUntilEmpty (registry: ConnectionRegistry, timeout: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<false>((resolve) => { timer = setTimeout(resolve, timeout, false) })
  try {
    return await Promise.race([registry.whenEmpty().then(() => true), expired])
  } finally {
    clearTimeout(timer)
  }
}
