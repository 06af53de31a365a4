/**
 * Builds the browser bundles of the client (`npm run build` runs it after `tsc`):
 * - `dist/browser/client.min.js`, one minified ES module (`fastify-reliable-ws/client/browser`);
 * - `dist/browser/client.iife.min.js`, a classic script that defines the global `FastifyReliableWs`.
 * Each stays under {@link BROWSER_BUNDLE_BUDGET} bytes gzipped (test/browser-bundle.test.ts checks it).
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type BuildOptions } from 'esbuild'

/** Largest size of each browser bundle once gzipped, in bytes: 12 KiB. */
export const BROWSER_BUNDLE_BUDGET = 12 * 1024

/** The name of the global the IIFE bundle defines. */
export const BROWSER_GLOBAL_NAME = 'FastifyReliableWs'

/** The file names of the bundles, inside the output folder. */
export const BROWSER_BUNDLES = { esm: 'client.min.js', iife: 'client.iife.min.js' } as const

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/**
 * Build both bundles into `outDir` (default `dist/browser`).
 * @returns the absolute paths of the ESM and IIFE bundles
 */
export async function buildBrowserBundles (outDir = join(ROOT, 'dist', 'browser')): Promise<{ esm: string, iife: string }> {
  await mkdir(outDir, { recursive: true })
  const common: BuildOptions = {
    absWorkingDir: ROOT,
    entryPoints: ['lib/client/index.ts'],
    bundle: true,
    minify: true,
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning'
  }
  const esm = join(outDir, BROWSER_BUNDLES.esm)
  const iife = join(outDir, BROWSER_BUNDLES.iife)
  await Promise.all([
    build({ ...common, format: 'esm', outfile: esm }),
    build({ ...common, format: 'iife', globalName: BROWSER_GLOBAL_NAME, outfile: iife })
  ])
  return { esm, iife }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const paths = await buildBrowserBundles()
  console.warn(`browser bundles: ${paths.esm}, ${paths.iife}`)
}
