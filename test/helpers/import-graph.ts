// What an entry point of the package pulls in, read from esbuild's metafile (no output written).
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** The source files (paths relative to the project root) and the packages `entry` imports. */
export async function importsOf (entry: string): Promise<{ files: string[], packages: string[] }> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    platform: 'node',
    format: 'esm',
    bundle: true,
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'silent'
  })
  const files = Object.keys(result.metafile.inputs)
  const packages = Object.values(result.metafile.inputs).flatMap((input) => input.imports.filter((i) => i.external).map((i) => i.path))
  return { files, packages }
}
