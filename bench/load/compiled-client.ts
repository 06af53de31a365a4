import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

type ClientModule = typeof import('../../lib/client/index.js')
type NodeClientModule = typeof import('../../lib/node-client/index.js')

const DIST_CLIENT = new URL('../../dist/client/index.js', import.meta.url)
const DIST_NODE_CLIENT = new URL('../../dist/node-client/index.js', import.meta.url)

/**
 * The reliable-mode client as Node users run it: the compiled JavaScript in dist/client (`npm run
 * bench` builds it first). Through tsx, esbuild's `keepNames` would wrap every closure of the
 * client in a `__name` call and the load would measure the dev transpiler.
 */
export async function loadCompiledClient (): Promise<ClientModule> {
  if (!existsSync(DIST_CLIENT)) throw new Error(`${fileURLToPath(DIST_CLIENT)} is missing: run \`npm run build\` first`)
  return await import(DIST_CLIENT.href) as ClientModule
}

/** The Node-only part of the client (`BatchingWebSocket`), compiled, as {@link loadCompiledClient}. */
export async function loadCompiledNodeClient (): Promise<NodeClientModule> {
  if (!existsSync(DIST_NODE_CLIENT)) throw new Error(`${fileURLToPath(DIST_NODE_CLIENT)} is missing: run \`npm run build\` first`)
  return await import(DIST_NODE_CLIENT.href) as NodeClientModule
}
