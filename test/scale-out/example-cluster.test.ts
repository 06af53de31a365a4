// `npm run example:cluster` as a user runs it: three nodes behind the example's round-robin proxy
// on one Redis. Earlier this test sometimes gave up after 30 s waiting for the nodes inside the
// full suite. Its failure message showed the output at the start of the wait (the message was
// built before waiting), so "nothing after the first node" said nothing about the end. Two causes
// fit: a node failed at start (it listened on PORT + i, and a port next to a free one may be taken)
// while the launcher carried on, or four tsx processes started on a loaded machine took over 30 s
// (about 10 s here under a busy loop, and once 60 s right after lib/ had changed). Now the example
// takes free ports (PORT=0) and stops at once when a node fails at start, this test reads the ports
// it prints, waits up to 60 s, and prints the output at the time of a timeout.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createConnection } from 'node:net'
import { fileURLToPath } from 'node:url'
import { connectClient } from '../../lib/testing/index.js'
import { startRedisServer } from '../helpers/redis-server.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { until } from './helpers.js'

const EXAMPLE = fileURLToPath(new URL('../../example/cluster.ts', import.meta.url))
let redis: RedisServer

before(async () => { redis = await startRedisServer() })
after(async () => { await redis.stop() })

test('npm run example:cluster: the chat crosses nodes, and an echo client resumes through the proxy after its node is killed', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', EXAMPLE], {
    // Not a test-runner child, and no coverage files from the example (as test/helpers/child-server.ts).
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, NODE_V8_COVERAGE: '', REDIS_URL: redis.url, PORT: '0', NODES: '3' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = once(child, 'exit')
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await exited
  })
  let output = ''
  const started = Date.now()
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  await until(() => /^proxy: /m.test(output) || child.exitCode !== null, () => `the proxy line (output so far: ${output})`, 60_000)
  assert.equal(child.exitCode, null, `the example is running (output: ${output})`)
  t.diagnostic(`three nodes and the proxy up after ${Date.now() - started} ms`)
  const nodes = [...output.matchAll(/^node (\d): ws:\/\/127\.0\.0\.1:(\d+) \(pid (\d+)\)$/gm)]
    .sort((a, b) => Number(a[1]) - Number(b[1])).map((match) => ({ port: Number(match[2]), pid: Number(match[3]) }))
  assert.equal(nodes.length, 3, `three nodes printed (output: ${output})`)
  const proxy = `ws://127.0.0.1:${/^proxy: ws:\/\/127\.0\.0\.1:(\d+)/m.exec(output)?.[1] ?? ''}`

  // Round robin: alice's connection goes to node 0, bob's to node 1, the echo client's to node 2.
  const alice = await connectClient(`${proxy}/chat?name=alice`)
  const bob = await connectClient(`${proxy}/chat?name=bob`)
  const echo = await connectClient(`${proxy}/echo`)
  t.after(async () => { await Promise.all([alice.close(), bob.close(), echo.close()]) })
  const heardByBob: string[] = []
  bob.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string, text?: string }
    if (message.type === 'said' && message.text !== undefined) heardByBob.push(message.text)
  })
  await bob.send(JSON.stringify({ type: 'join', room: 'lobby' }))
  await alice.send(JSON.stringify({ type: 'say', room: 'lobby', text: 'hello from node 0', id: 'a1' }))
  await until(() => heardByBob.length === 1, 'bob, on node 1, to hear alice')
  assert.deepEqual(heardByBob, ['hello from node 0'])

  const echoes: string[] = []
  const resumed: boolean[] = []
  echo.on('message', (data) => { echoes.push(String(data)) })
  echo.on('resumed', ({ continuity }) => { resumed.push(continuity) })
  await echo.send('before')
  await until(() => echoes.length === 1, 'the first echo')
  process.kill(nodes[2].pid, 'SIGKILL')
  const sends = ['after 1', 'after 2', 'after 3'].map(async (text) => await echo.send(text))
  await Promise.all(sends)
  await until(() => echoes.length === 4, 'the echoes after the kill')
  assert.deepEqual(echoes, ['before', 'after 1', 'after 2', 'after 3'], 'every echo once, in order')
  assert.deepEqual(resumed, [true], 'the echo session resumed on another node with continuity')
  await until(() => /^node 2 exited/m.test(output), 'the launcher to notice the killed node')
})

test('npm run example:cluster without REDIS_URL starts its own redis-server and stops it at the end', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', EXAMPLE], {
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, NODE_V8_COVERAGE: '', REDIS_URL: undefined, PORT: '0', NODES: '1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = once(child, 'exit')
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  try {
    await until(() => /^proxy: /m.test(output) || child.exitCode !== null, () => `the proxy line (output so far: ${output})`, 60_000)
  } finally {
    child.kill('SIGTERM')
  }
  const [code] = await exited as [number | null]
  const redisPort = Number(/^redis: redis:\/\/127\.0\.0\.1:(\d+) \(started here/m.exec(output)?.[1])
  assert.ok(redisPort > 0, `the example said which redis-server it started (output: ${output})`)
  assert.equal(code, 0, `a clean exit on SIGTERM (output: ${output})`)
  const probe = createConnection(redisPort, '127.0.0.1')
  // once() rejects when the socket emits 'error' first: the refusal we expect.
  const event = await once(probe, 'connect').then(() => 'connect', () => 'error')
  probe.destroy()
  assert.equal(event, 'error', 'its redis-server is gone')
})
