import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import type { WsMessage } from '../../lib/index.js'
import { RedisFanout, RedisSessionStore } from '../../lib/redis.js'
import { encodeHello } from '../../lib/protocol/handshake.js'
import { connectClient, startApp } from '../../lib/testing/index.js'
import type { StartedApp } from '../../lib/testing/index.js'
import { startRedisServer } from '../helpers/redis-server.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { LogLevel, captureLogs } from '../helpers/server.js'
import { until } from './helpers.js'

let redis: RedisServer

before(async () => { redis = await startRedisServer() })
after(async () => { await redis.stop() })

async function appOnRedis (): Promise<{ server: StartedApp, logs: ReturnType<typeof captureLogs> }> {
  const client = redis.client()
  await until(() => client.status === 'ready', 'the redis client')
  const logs = captureLogs()
  const server = await startApp((app) => {
    app.wsRoute('/plain', (connection) => {
      connection.on('message', (data: WsMessage) => { void connection.send(data) })
    })
    app.wsRoute('/r', { reliable: {} }, (connection) => {
      connection.on('message', (data: WsMessage) => { void connection.send(`echo ${String(data)}`) })
    })
  }, {
    plugin: { sessionStore: new RedisSessionStore({ redis: client, commandTimeout: 300 }), fanout: new RedisFanout({ redis: client }) },
    fastify: { logger: { level: 'info', stream: logs.stream } }
  })
  return { server, logs }
}

/** Open a socket and report how it closed, or 'open' once the welcome came. */
async function reliableAttempt (url: string): Promise<{ code: number, reason: string } | 'open'> {
  const socket = new WebSocket(url, 'frws.v2')
  return await new Promise((resolve, reject) => {
    socket.once('open', () => socket.send(encodeHello({ version: 2 })))
    socket.once('message', () => { socket.close(); resolve('open') })
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason) }))
    socket.once('error', reject)
  })
}

async function plainEcho (url: string): Promise<string> {
  const socket = new WebSocket(url)
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
  const answer = new Promise<string>((resolve) => socket.once('message', (data) => resolve(String(data))))
  socket.send('ping me')
  const text = await answer
  socket.close()
  return text
}

describe('Redis unreachable for a while', () => {
  test('frozen Redis: new reliable sessions get 1013, plain routes carry on, a live session waits and recovers', async (t) => {
    const { server, logs } = await appOnRedis()
    t.after(() => server.close())
    const client = await connectClient(`${server.url}/r`)
    t.after(() => client.close())
    const echoes: string[] = []
    client.on('message', (data) => { echoes.push(String(data)) })
    await client.send('before')
    redis.freeze()
    try {
      let acked = false
      const during = client.send('during').then(() => { acked = true })
      assert.deepEqual(await reliableAttempt(`${server.url}/r`), { code: 1013, reason: 'session store unavailable' })
      assert.equal(await plainEcho(`${server.url}/plain`), 'ping me', 'plain routes unaffected')
      await until(() => logs.lines.some((line) => line.msg === 'session store update failed'), 'the failed write logged')
      assert.ok(logs.lines.some((line) => line.msg === 'reliable session refused: session store unavailable' && line.level === LogLevel.warn))
      const failed = logs.lines.find((line) => line.msg === 'session store update failed')
      assert.equal((failed?.err as { code?: string }).code, 'FRWS_ERR_STORE_UNAVAILABLE')
      assert.equal(acked, false, 'not acknowledged while the store cannot record it')
      redis.thaw()
      await during
    } finally {
      redis.thaw()
    }
    await until(() => echoes.includes('echo during'), 'the echo of the message sent during the outage')
    assert.deepEqual(echoes, ['echo before', 'echo during'])
    assert.equal(await reliableAttempt(`${server.url}/r`), 'open', 'new sessions accepted again')
  })

  test('Redis killed and restarted: refused while down, broadcasts reported, accepted again after', async (t) => {
    const { server, logs } = await appOnRedis()
    t.after(() => server.close())
    await redis.crash()
    try {
      assert.deepEqual(await reliableAttempt(`${server.url}/r`), { code: 1013, reason: 'session store unavailable' })
      assert.equal(await plainEcho(`${server.url}/plain`), 'ping me')
      server.app.wsConnections.broadcast('to other nodes')
      await until(() => logs.lines.some((line) => line.msg === 'fan-out failed' && line.level === LogLevel.warn), 'the fan-out failure logged')
    } finally {
      await redis.start()
    }
    await until(async () => await reliableAttempt(`${server.url}/r`) === 'open', 'a new session after the restart')
  })
})
