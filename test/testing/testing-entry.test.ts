import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import * as testing from '../../lib/testing/index.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** The source files `entry` pulls in, dependencies left out. */
async function inputsOf (entry: string): Promise<string[]> {
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
  return Object.keys(result.metafile.inputs)
}

test('neither the plugin entry nor the client pulls in the Node-only testing kit', async () => {
  for (const entry of ['lib/index.ts', 'lib/client/index.ts']) {
    const inputs = await inputsOf(entry)
    assert.ok(inputs.length > 1, `${entry} bundles its modules`)
    assert.deepEqual(inputs.filter((input) => input.startsWith('lib/testing/')), [], entry)
  }
})

test('fastify-reliable-ws/testing exports the proxy, the faulty store and the two fixtures, nothing else', () => {
  assert.deepEqual(Object.keys(testing).sort(), ['connectClient', 'createFaultProxy', 'faultyStore', 'startApp'])
})
