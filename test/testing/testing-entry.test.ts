import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as testing from '../../lib/testing/index.js'
import { importsOf } from '../helpers/import-graph.js'


test('neither the plugin entry nor the client pulls in the Node-only testing kit', async () => {
  for (const entry of ['lib/index.ts', 'lib/client/index.ts']) {
    const inputs = (await importsOf(entry)).files
    assert.ok(inputs.length > 1, `${entry} bundles its modules`)
    assert.deepEqual(inputs.filter((input) => input.startsWith('lib/testing/')), [], entry)
  }
})

test('fastify-reliable-ws/testing exports the proxy, the faulty store and the two fixtures, nothing else', () => {
  assert.deepEqual(Object.keys(testing).sort(), ['connectClient', 'createFaultProxy', 'faultyStore', 'startApp'])
})
