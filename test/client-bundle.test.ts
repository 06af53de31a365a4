import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** Bundle the client entry for browsers as a bundler in an application would. */
async function bundleClient (): Promise<{ text: string, inputs: string[] }> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ['lib/client/index.ts'],
    platform: 'browser',
    bundle: true,
    write: false,
    format: 'esm',
    metafile: true,
    logLevel: 'silent'
  })
  assert.deepEqual(result.errors, [])
  assert.deepEqual(result.warnings, [])
  assert.equal(result.outputFiles.length, 1)
  return { text: result.outputFiles[0].text, inputs: Object.keys(result.metafile.inputs) }
}

describe('the browser build of the client', () => {
  test('lib/client/index.ts bundles for the browser with no require( and no node: imports', async () => {
    const { text } = await bundleClient()
    assert.doesNotMatch(text, /require\(/)
    assert.doesNotMatch(text, /["']node:/)
    assert.doesNotMatch(text, /\bBuffer\./, 'no use of the Node Buffer global')
    assert.doesNotMatch(text, /\bprocess\.(?:env|nextTick|versions)/, 'no use of the Node process global')
  })

  test('the bundle pulls in only the client and the shared protocol modules', async () => {
    const { inputs } = await bundleClient()
    const foreign = inputs.filter((input) => !/^lib\/(?:client|protocol|messages)\/[a-z-]+\.ts$/.test(input))
    assert.deepEqual(foreign, [])
    assert.ok(inputs.includes('lib/client/client.ts'))
  })

  test('the bundle is a working ES module that exports ReliableClient and the close codes', async () => {
    const { text } = await bundleClient()
    const bundled = await import(`data:text/javascript;base64,${Buffer.from(text).toString('base64')}`) as Record<string, unknown>
    assert.equal(typeof bundled.ReliableClient, 'function')
    assert.equal((bundled.CloseCode as Record<string, number>).BAD_MESSAGE, 4400)
  })
})
