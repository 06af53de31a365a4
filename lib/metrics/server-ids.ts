import type { ConnectionRegistry } from '../registry.js'

/**
 * The registration id behind each `fastify.wsConnections`: what exporters filter the channels'
 * messages by, since the channels are shared by every registration in the process.
 */
const serverIds = new WeakMap<ConnectionRegistry, string>()

/** @internal Called once by the server state of each plugin registration. */
export function bindServerId (registry: ConnectionRegistry, serverId: string): void {
  serverIds.set(registry, serverId)
}

/** @internal The `serverId` that the channels' messages carry for the registration owning `registry`. */
export function serverIdOf (registry: ConnectionRegistry): string | undefined {
  return serverIds.get(registry)
}
