import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import * as metrics from '../../lib/metrics/index.js'
import { importsOf } from '../helpers/import-graph.js'


test('the plugin entry and the client never import prom-client nor the exporter', async () => {
  for (const entry of ['lib/index.ts', 'lib/client/index.ts']) {
    const { files, packages } = await importsOf(entry)
    assert.ok(files.length > 1, `${entry} bundles its modules`)
    assert.equal(packages.includes('prom-client'), false, entry)
    assert.deepEqual(files.filter((file) => file.startsWith('lib/metrics/prometheus')), [], entry)
  }
  assert.ok((await importsOf('lib/metrics/index.ts')).packages.includes('prom-client'), 'the metrics entry does import it')
})

test('the client bundle pulls in no metrics code', async () => {
  const { files } = await importsOf('lib/client/index.ts')
  assert.deepEqual(files.filter((file) => file.startsWith('lib/metrics/')), [])
})

test('fastify-reliable-ws/metrics exports the exporter and the channels; prom-client is an optional peer dependency', () => {
  assert.deepEqual(Object.keys(metrics).sort(), ['CHANNEL_NAMES', 'DEFAULT_RTT_BUCKETS', 'channels', 'registerMetrics'])
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    exports: Record<string, unknown>
    peerDependencies: Record<string, string>
    peerDependenciesMeta: Record<string, { optional?: boolean }>
  }
  assert.deepEqual(manifest.exports['./metrics'], { types: './dist/metrics/index.d.ts', default: './dist/metrics/index.js' })
  assert.ok(manifest.peerDependencies['prom-client'] !== undefined)
  assert.equal(manifest.peerDependenciesMeta['prom-client'].optional, true)
})
