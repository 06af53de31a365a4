// Smoke test of `npm run example:cluster`, run on demand with `npm run test:example-cluster` and not
// part of `npm test`: inside the full suite the launcher hung at start about once in five runs here
// (it printed its first node and then nothing for 30 s; alone it starts in about 1 s), cause not
// yet known. Kept out of CI until that is understood, so a hang of the example cannot fail a run.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { connectClient } from '../../lib/testing/index.js'
import { freePort, startRedisServer } from '../helpers/redis-server.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { until } from './helpers.js'

const EXAMPLE = fileURLToPath(new URL('../../example/cluster.ts', import.meta.url))
let redis: RedisServer

before(async () => { redis = await startRedisServer() })
after(async () => { await redis.stop() })

test('npm run example:cluster: two nodes share the chat through Redis', async (t) => {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', EXAMPLE], {
    // Not a test-runner child, and no coverage files from the example (as test/helpers/child-server.ts).
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, NODE_V8_COVERAGE: '', REDIS_URL: redis.url, PORT: String(port), NODES: '2' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = once(child, 'exit')
  t.after(async () => {
    child.kill('SIGTERM')
    await exited
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  await until(() => (output.match(/Server listening/g) ?? []).length === 2, `both nodes listening (output so far: ${output})`, 30_000)

  const [alice, bob] = await Promise.all([
    connectClient(`ws://127.0.0.1:${port}/chat?name=alice`),
    connectClient(`ws://127.0.0.1:${port + 1}/chat?name=bob`)
  ])
  t.after(async () => { await Promise.all([alice.close(), bob.close()]) })
  const heardByBob: string[] = []
  bob.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string, text?: string }
    if (message.type === 'said' && message.text !== undefined) heardByBob.push(message.text)
  })
  await bob.send(JSON.stringify({ type: 'join', room: 'lobby' }))
  await alice.send(JSON.stringify({ type: 'say', room: 'lobby', text: 'hello from node 0', id: 'a1' }))
  await until(() => heardByBob.length === 1, 'bob, on node 1, to hear alice')
  assert.deepEqual(heardByBob, ['hello from node 0'])
})
