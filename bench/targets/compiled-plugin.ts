import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

type PluginModule = typeof import('../../lib/index.js')

// FRWS_BENCH_DIST names another build to run instead (bench/tools/client-ab.ts compares two).
const DIST_ENTRY = process.env.FRWS_BENCH_DIST === undefined
  ? new URL('../../dist/index.js', import.meta.url)
  : pathToFileURL(join(process.env.FRWS_BENCH_DIST, 'index.js'))

/**
 * The plugin as users run it: the compiled JavaScript in dist/ (`npm run bench` builds it first).
 * Running the TypeScript source through tsx would measure the dev transpiler (esbuild's
 * `keepNames` wraps every closure in a `__name` call), not the plugin.
 */
export async function loadCompiledPlugin (): Promise<PluginModule> {
  if (!existsSync(DIST_ENTRY)) throw new Error(`${fileURLToPath(DIST_ENTRY)} is missing: run \`npm run build\` first`)
  return await import(DIST_ENTRY.href) as PluginModule
}
