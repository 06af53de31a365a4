/**
 * `fastify-reliable-ws/testing`: a fault-injection kit for tests of apps built on the plugin
 * (docs/TESTING.md, "Fault-injection kit"). Node only: neither the plugin entry nor the client
 * imports it.
 */
export { createFaultProxy } from './fault-proxy.js'
export type { FaultProxy, FaultProxyOptions, FaultProxyTarget } from './fault-proxy.js'
export { faultyStore } from './faulty-store.js'
export type { FaultyStore, FaultyStoreOptions, SessionStoreMethod, StoreLatency } from './faulty-store.js'
export { connectClient, startApp } from './fixtures.js'
export type { ConnectClientOptions, StartAppOptions, StartedApp } from './fixtures.js'
