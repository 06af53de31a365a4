import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { runInNewContext } from 'node:vm'
import { gzipSync } from 'node:zlib'
import { BROWSER_BUNDLE_BUDGET, BROWSER_GLOBAL_NAME, buildBrowserBundles } from '../scripts/build-browser.js'

describe('the shipped browser bundles (npm run build)', () => {
  let dir: string
  let paths: { esm: string, iife: string }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'frws-bundles-'))
    paths = await buildBrowserBundles(dir)
  })
  after(() => rm(dir, { recursive: true, force: true }))

  test(`each bundle is at most ${BROWSER_BUNDLE_BUDGET / 1024} KiB gzipped`, () => {
    for (const path of [paths.esm, paths.iife]) {
      const gzipped = gzipSync(readFileSync(path), { level: 9 }).length
      assert.ok(gzipped <= BROWSER_BUNDLE_BUDGET, `${path}: ${gzipped} bytes gzipped, budget ${BROWSER_BUNDLE_BUDGET}`)
      // A bundle that lost the client would pass the budget too.
      assert.ok(gzipped > 4096, `${path}: ${gzipped} bytes gzipped is too small to hold the client`)
    }
  })

  test('the ES module bundle is one minified file that exports ReliableClient and the close codes', async () => {
    const text = readFileSync(paths.esm, 'utf8')
    assert.doesNotMatch(text, /^import /m, 'no imports left')
    assert.ok(text.split('\n').length < 10, 'minified')
    const bundle = await import(pathToFileURL(paths.esm).href) as Record<string, unknown>
    assert.equal(typeof bundle.ReliableClient, 'function')
    assert.equal((bundle.ClientErrorCode as Record<string, string>).NOT_RELIABLE_ROUTE, 'FRWS_ERR_CLIENT_NOT_RELIABLE_ROUTE')
  })

  test(`the classic-script bundle defines the global ${BROWSER_GLOBAL_NAME} with ReliableClient on it`, () => {
    const context: Record<string, unknown> = { queueMicrotask, setTimeout, clearTimeout, TextEncoder, TextDecoder }
    context.globalThis = context
    runInNewContext(readFileSync(paths.iife, 'utf8'), context)
    const global = context[BROWSER_GLOBAL_NAME] as Record<string, unknown>
    assert.equal(typeof global.ReliableClient, 'function')
    assert.equal((global.CloseCode as Record<string, number>).GOING_AWAY, 1001)
  })
})
