import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { RedisSessionStore } from '../../lib/redis.js'
import { startRedisServer } from '../helpers/redis-server.js'
import type { RedisServer } from '../helpers/redis-server.js'
import type { ChildServer } from '../helpers/child-server.js'
import { balancedClient, startNodes, until } from './helpers.js'

let redis: RedisServer
let prefixes = 0
const children: ChildServer[] = []

before(async () => { redis = await startRedisServer() })
after(async () => {
  for (const child of children.splice(0)) child.kill()
  await redis.stop()
})

async function nodes (count: number): Promise<{ list: ChildServer[], prefix: string }> {
  const prefix = `n${++prefixes}:`
  const list = await startNodes(count, redis.port, prefix)
  children.push(...list)
  return { list, prefix }
}

/** A plain client of /room on `url`, with what it received after 'joined'. */
async function roomMember (url: string): Promise<{ socket: WebSocket, heard: string[] }> {
  const socket = new WebSocket(`${url}/room`)
  const heard: string[] = []
  await new Promise<void>((resolve, reject) => {
    socket.on('message', (data) => {
      const text = String(data)
      if (text === 'joined') resolve()
      else heard.push(text)
    })
    socket.once('error', reject)
  })
  return { socket, heard }
}

describe('scale-out on Redis: nodes as separate processes', () => {
  test('a room broadcast on one node reaches every member on every node exactly once', async () => {
    const { list } = await nodes(3)
    const members: Array<{ socket: WebSocket, heard: string[] }> = []
    for (const node of list) members.push(await roomMember(node.url), await roomMember(node.url))
    members[0].socket.send('say:first')
    // A second broadcast from another node: once it has arrived everywhere, a duplicate of the first would have too.
    members[3].socket.send('say:second')
    await until(() => members.every((member) => member.heard.includes('second')), 'the second broadcast on every member')
    for (const [i, member] of members.entries()) {
      assert.deepEqual([...member.heard].sort(), ['first', 'second'], `member ${i} (node ${Math.floor(i / 2)}) heard each broadcast once`)
    }
    for (const member of members) member.socket.close()
    await Promise.all(list.map((node) => node.close()))
  })

  test('a client resumes on another node after its node was SIGKILLed, nothing lost in either direction', async () => {
    const { list: [a, b] } = await nodes(2)
    const { client, received, balancer } = await balancedClient(a.url, '/echo')
    const resumed: boolean[] = []
    client.on('resumed', ({ continuity }) => { resumed.push(continuity) })
    const total = 40
    const sends: Array<Promise<void>> = []
    for (let i = 1; i <= total; i++) {
      sends.push(client.send(`m${i}`))
      if (i === 15) {
        // Crash node A mid-conversation, with messages in flight both ways; the balancer now points at B.
        await until(() => received.length >= 5, 'a few echoes from node A')
        balancer.target = b.url
        a.kill()
        await a.exited
      }
      if (i % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await Promise.all(sends)
    await until(() => received.length >= total, `all ${total} echoes`)
    assert.deepEqual(received, Array.from({ length: total }, (_, i) => `echo m${i + 1}`), 'every echo once, in order')
    assert.deepEqual(resumed, [true], 'one resume, with continuity')
    await client.close()
    await b.close()
  })

  test('a zombie node (SIGSTOP, session taken elsewhere, SIGCONT) cannot corrupt the session', async () => {
    const { list: [a, b], prefix } = await nodes(2)
    const { client, received, balancer } = await balancedClient(a.url, '/echo')
    await client.send('z1')
    await client.send('z2')
    await until(() => received.length === 2, 'two echoes from node A')
    // Node A schedules a message for later, then freezes before sending it.
    await client.send('later:zombie')
    a.signal('SIGSTOP')
    balancer.target = b.url
    balancer.cut()
    await until(() => client.state === 'open' && client.bufferedCount === 0, 'the session resumed on node B', 15_000)
    await client.send('z3')
    await until(() => received.includes('echo z3'), 'the echo of z3 from node B')
    a.signal('SIGCONT')
    // Node A wakes up: its timer fires and it sends on the session it lost; that send is refused.
    let later = { fired: 0, delivered: 0, refused: 0 }
    await until(async () => {
      later = (await a.stats()).later as typeof later
      return later.refused === 1
    }, 'the zombie send to be refused')
    assert.deepEqual(later, { fired: 1, delivered: 0, refused: 1 })
    await client.send('z4')
    await until(() => received.includes('echo z4'), 'the echo of z4')
    assert.deepEqual(received, ['echo z1', 'echo z2', 'echo z3', 'echo z4'], 'the zombie sent nothing and took nothing')
    const probe = redis.client()
    await until(() => probe.status === 'ready', 'a probe connection')
    const store = new RedisSessionStore({ redis: probe, keyPrefix: prefix })
    const state = await store.get(client.sessionId ?? '')
    assert.equal(state?.clientDelivered, 5, 'z1, z2, later:zombie, z3, z4 delivered')
    assert.equal(state?.serverSeq, 4, 'four echoes, no message of the zombie')
    await store.close()
    await client.close()
    await Promise.all([a.close(), b.close()])
  })
})
