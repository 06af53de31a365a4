import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { ReliableClient } from '../../lib/client/index.js'
import type { ChildServer } from '../helpers/child-server.js'
import { startRedisServer } from '../helpers/redis-server.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { seededRandom } from '../helpers/reliable-pair.js'
import { startNodes, until } from './helpers.js'
import { startRandomBalancer } from './random-balancer.js'
import type { RandomBalancer } from './random-balancer.js'

// Issue 9: an echo conversation with numbered messages both ways while a balancer sends every
// reconnect to a random node, connections are cut, one node is SIGKILLed and replaced, and every
// node in turn is restarted gracefully (rolling deploy). Every message arrives once, in order, and
// every send() resolves. The balancer's choices and the chaos come from a printed seed (SEED=<n>
// replays a run).
const SEED = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
const CLIENTS = 3
const MESSAGES = 150
/** Messages a client may have sent without their echo. */
const WINDOW = 8

let redis: RedisServer
let balancer: RandomBalancer
const live: ChildServer[] = []

before(async () => {
  redis = await startRedisServer()
  balancer = await startRandomBalancer(seededRandom(SEED))
})
after(async () => {
  await balancer.close()
  for (const node of live.splice(0)) node.kill()
  await redis.stop()
})

async function addNode (): Promise<ChildServer> {
  const [node] = await startNodes(1, redis.port, 'roll:')
  live.push(node)
  balancer.ports = live.map((each) => each.port)
  return node
}

/** Take `node` out of the balancer (new connections go elsewhere) and forget it. */
function removeNode (node: ChildServer): void {
  live.splice(live.indexOf(node), 1)
  balancer.ports = live.map((each) => each.port)
}

test(`a conversation survives cuts, random nodes, a SIGKILL and a rolling restart, every message once and in order (seed ${SEED})`, async (t) => {
  t.diagnostic(`seed ${SEED} (replay with SEED=${SEED})`)
  const random = seededRandom(SEED ^ 0x5eed)
  for (let i = 0; i < 3; i++) await addNode()

  const clients = await Promise.all(Array.from({ length: CLIENTS }, async (_, k) => {
    const client = new ReliableClient(`${balancer.url}/echo`, { WebSocket, baseDelay: 20, maxDelay: 200 })
    const received: string[] = []
    const continuity: boolean[] = []
    client.on('message', (data) => { received.push(String(data)) })
    client.on('resumed', (event) => { continuity.push(event.continuity) })
    await new Promise<void>((resolve, reject) => {
      client.once('open', () => resolve())
      client.once('end', ({ code, reason }) => reject(new Error(`client ${k} ended before its session: ${code} ${reason}`)))
    })
    return { client, received, continuity, sent: 0 }
  }))
  t.after(async () => { await Promise.all(clients.map(async ({ client }) => await client.close())) })

  // The chaos, each step at a seeded point of the conversation; the senders wait at the step's
  // point until it is done, so it always happens with messages just sent and not yet echoed.
  const steps: Array<[string, () => Promise<void>]> = [
    ['cut every connection', async () => { balancer.cut() }],
    ['SIGKILL a random node and start a new one', async () => {
      const victim = live[Math.floor(random() * live.length)]
      removeNode(victim)
      victim.kill()
      await victim.exited
      await addNode()
    }],
    ['cut every connection', async () => { balancer.cut() }],
    ...[0, 1, 2].map((n): [string, () => Promise<void>] => [`rolling restart, node ${n + 1} of 3 (graceful close)`, async () => {
      const oldest = live[0]
      removeNode(oldest)
      await oldest.close()
      await addNode()
    }]),
    ['cut every connection', async () => { balancer.cut() }]
  ]
  const points = steps.map(() => 10 + Math.floor(random() * (MESSAGES - 30))).sort((a, b) => a - b)
  let gate = points[0]
  const chaos = (async () => {
    for (const [i, [what, act]] of steps.entries()) {
      gate = points[i]
      await until(() => clients.every((each) => each.sent >= points[i]), `every client at message ${points[i]}`, 60_000)
      t.diagnostic(`at message ${points[i]}: ${what}`)
      await act()
    }
    gate = MESSAGES
  })()

  const sends: Array<Promise<void>> = []
  await Promise.all(clients.map(async (each, k) => {
    for (let i = 1; i <= MESSAGES; i++) {
      await until(() => i <= gate && each.received.length >= i - WINDOW, `client ${k} clear to send message ${i}`, 60_000)
      sends.push(each.client.send(`c${k}-m${i}`))
      each.sent = i
    }
  }))
  await chaos
  await Promise.all(sends)
  for (const [k, each] of clients.entries()) {
    await until(() => each.received.length >= MESSAGES, `client ${k}: all ${MESSAGES} echoes`, 60_000)
    assert.deepEqual(each.received, Array.from({ length: MESSAGES }, (_, i) => `echo c${k}-m${i + 1}`), `client ${k}: every echo once, in order`)
    assert.ok(each.continuity.length >= 1, `client ${k} resumed at least once`)
    assert.ok(each.continuity.every(Boolean), `client ${k} always resumed with continuity: ${each.continuity.join(',')}`)
  }
  const picked = [...balancer.picks.values()].filter((count) => count > 0).length
  assert.ok(picked >= 4, `connections went to several nodes, old and new (${picked} nodes got connections)`)
})
