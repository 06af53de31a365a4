import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import type { WsMessage } from '../../lib/index.js'
import { RedisFanout, RedisSessionStore } from '../../lib/redis.js'
import { connectClient, startApp } from '../../lib/testing/index.js'
import type { StartedApp } from '../../lib/testing/index.js'
import { startRedisCluster } from '../helpers/redis-cluster.js'
import type { RedisCluster } from '../helpers/redis-cluster.js'
import { sessionStoreContract } from '../store/contract.js'
import { until } from './helpers.js'

let cluster: RedisCluster
const stores: RedisSessionStore[] = []
let prefixes = 0

before(async () => { cluster = await startRedisCluster() })
after(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()))
  await cluster.stop()
})

async function readyClient (): Promise<ReturnType<RedisCluster['client']>> {
  const client = cluster.client()
  await until(() => client.status === 'ready', 'the cluster client')
  return client
}

sessionStoreContract('redis cluster store (3 masters)', async () => {
  const store = new RedisSessionStore({ redis: await readyClient(), keyPrefix: `c${++prefixes}:` })
  stores.push(store)
  return store
})

describe('two nodes on a 3-master Redis Cluster', () => {
  test('sessions spread over the masters, resume on the other node, and broadcasts reach both nodes', async (t) => {
    const nodes: StartedApp[] = []
    for (let i = 0; i < 2; i++) {
      const redis = await readyClient()
      nodes.push(await startApp((app) => {
        app.wsRoute('/echo', { reliable: {} }, (connection) => {
          connection.on('message', (data: WsMessage) => { void connection.send(`echo ${String(data)}`) })
        })
        app.wsRoute('/room', (connection) => {
          connection.join('lobby')
          connection.on('message', (data: WsMessage) => { app.wsConnections.broadcast(String(data), { room: 'lobby' }) })
          void connection.send('joined')
        })
      }, { plugin: { sessionStore: new RedisSessionStore({ redis, keyPrefix: 'k:' }), fanout: new RedisFanout({ redis, channel: 'k:fanout' }) } }))
    }
    t.after(async () => { await Promise.all(nodes.map((node) => node.close())) })

    const clients = await Promise.all(Array.from({ length: 12 }, async () => await connectClient(`${nodes[0].url}/echo`)))
    const probe = await readyClient()
    const holding = await Promise.all(probe.nodes('master').map(async (master) => (await master.keys('k:*')).length))
    assert.ok(holding.filter((count) => count > 0).length >= 2, `12 sessions spread over several masters (${holding.join(', ')})`)
    for (const client of clients) await client.close()

    // A room broadcast from node 0 reaches the members on both nodes, once each.
    const members = await Promise.all(nodes.map(async (node) => {
      const socket = new WebSocket(`${node.url}/room`)
      const heard: string[] = []
      await new Promise<void>((resolve) => socket.on('message', (data) => {
        if (String(data) === 'joined') resolve()
        else heard.push(String(data))
      }))
      return { socket, heard }
    }))
    members[0].socket.send('hello')
    members[1].socket.send('again')
    await until(() => members.every((member) => member.heard.length === 2), 'both broadcasts on both nodes')
    for (const member of members) {
      assert.deepEqual([...member.heard].sort(), ['again', 'hello'])
      member.socket.close()
    }

    // Resume: a session begun on node 0 continues on node 1 through the store.
    let target = nodes[0].url
    const { ReliableClient } = await import('../../lib/client/index.js')
    const client = new ReliableClient(() => `${target}/echo`, { WebSocket, baseDelay: 20, maxDelay: 200 })
    t.after(() => client.close())
    const echoes: string[] = []
    client.on('message', (data) => { echoes.push(String(data)) })
    await client.send('one')
    target = nodes[1].url
    await nodes[0].app.close()
    await client.send('two')
    await until(() => echoes.length === 2, 'both echoes')
    assert.deepEqual(echoes, ['echo one', 'echo two'])
  })
})
