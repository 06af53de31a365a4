import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type { WsConnection } from '../lib/index.js'
import { buildApp, cleanup, listen, openClient, waitFor, withExpiry } from './helpers/server.js'
import type { TestClient } from './helpers/server.js'

/**
 * An app whose `/ws` handler joins the rooms named in `?rooms=a,b`, sends its id as the first
 * message, and answers `close:<code>` by closing itself through the registry.
 */
async function start (t: { after: (fn: () => unknown) => void }, maxConnections?: number): Promise<{ app: FastifyInstance, url: string }> {
  const app = await buildApp(maxConnections === undefined ? {} : { maxConnections, upgradeRate: false }, (app) => {
    app.wsRoute('/ws', (connection, request) => {
      const rooms = new URL(request.url, 'http://x').searchParams.get('rooms')
      for (const room of rooms === null || rooms === '' ? [] : rooms.split(',')) connection.join(room)
      connection.data = { name: request.headers['x-name'] }
      void connection.send(`id:${connection.id}`)
    })
  })
  t.after(() => cleanup(app))
  return { app, url: `${await listen(app)}/ws` }
}

/** A client plus the id the server gave its connection. */
async function join (url: string, rooms: string[] = [], name = ''): Promise<{ client: TestClient, id: string }> {
  const client = await openClient(`${url}?rooms=${rooms.join(',')}`, { headers: { 'x-name': name } })
  const first = String(await client.next())
  assert.match(first, /^id:/)
  return { client, id: first.slice(3) }
}

describe('the connection registry', () => {
  test('size returns to 0 after 1,000 open/close cycles, and no room is left behind', async (t) => {
    // With maxConnections equal to the batch size, any slot that leaked would turn a later upgrade into a 503.
    const batch = 50
    const { app, url } = await start(t, batch)
    let peak = 0
    for (let done = 0; done < 1000; done += batch) {
      const clients = await Promise.all(Array.from({ length: batch }, (_, i) => join(url, [`room-${i % 5}`, 'all'])))
      peak = Math.max(peak, app.wsConnections.size)
      for (const { client } of clients) client.socket.close(1000)
      await withExpiry(Promise.all(clients.map(({ client }) => client.closed)), 5000, 'a batch of closes')
      await waitFor(() => app.wsConnections.size === 0, `the registry to empty after ${done + batch} cycles`)
    }
    assert.equal(peak, batch)
    assert.equal(app.wsConnections.size, 0)
    assert.deepEqual([...app.wsConnections.roomNames()], [])
    assert.equal(app.wsConnections.room('all').size, 0)
  })

  test('get, values and iteration list exactly the open connections with their details', async (t) => {
    const { app, url } = await start(t)
    const before = Date.now()
    const a = await join(url, [], 'ada')
    const b = await join(url, [], 'bob')
    t.after(() => { a.client.socket.terminate(); b.client.socket.terminate() })
    assert.notEqual(a.id, b.id)
    assert.equal(app.wsConnections.size, 2)
    const connection = app.wsConnections.get(a.id)
    assert.ok(connection !== undefined)
    assert.equal(connection.id, a.id)
    assert.equal(connection.remoteAddress, '127.0.0.1')
    assert.ok(connection.openedAt >= before - 1 && connection.openedAt <= Date.now())
    assert.deepEqual(connection.data, { name: 'ada' })
    assert.deepEqual([...app.wsConnections.values()].map((c) => c.id).sort(), [a.id, b.id].sort())
    assert.deepEqual([...app.wsConnections].map((c) => c.id).sort(), [a.id, b.id].sort())
    assert.equal(app.wsConnections.get('no-such-id'), undefined)

    a.client.socket.close()
    await waitFor(() => app.wsConnections.size === 1, 'the first connection to leave')
    assert.equal(app.wsConnections.get(a.id), undefined)
    assert.deepEqual([...app.wsConnections].map((c) => c.id), [b.id])
  })

  test('join, leave and room() track room membership', async (t) => {
    const { app, url } = await start(t)
    const a = await join(url, ['red'])
    const b = await join(url, ['red', 'blue'])
    t.after(() => { a.client.socket.terminate(); b.client.socket.terminate() })
    const ids = (room: string): string[] => [...app.wsConnections.room(room)].map((c) => c.id).sort()
    assert.deepEqual(ids('red'), [a.id, b.id].sort())
    assert.deepEqual(ids('blue'), [b.id])
    assert.deepEqual(ids('green'), [])
    assert.deepEqual([...app.wsConnections.roomNames()].sort(), ['blue', 'red'])

    const connectionA = app.wsConnections.get(a.id) as WsConnection<object>
    connectionA.join('red')
    assert.deepEqual(ids('red'), [a.id, b.id].sort(), 'joining twice changes nothing')
    connectionA.join('green')
    assert.deepEqual([...connectionA.rooms].sort(), ['green', 'red'])
    connectionA.leave('red')
    assert.deepEqual(ids('red'), [b.id])
    connectionA.leave('green')
    assert.deepEqual([...app.wsConnections.roomNames()].sort(), ['blue', 'red'], 'an empty room disappears')
    connectionA.leave('never-joined')
    assert.deepEqual([...connectionA.rooms], [])
  })

  test('broadcast reaches each member exactly once and returns how many it reached', async (t) => {
    const { app, url } = await start(t)
    const a = await join(url, ['r'])
    const b = await join(url, ['r', 'x'])
    const c = await join(url, [])
    const clients = [a, b, c]
    t.after(() => { for (const { client } of clients) client.socket.terminate() })

    assert.equal(app.wsConnections.broadcast('to-all'), 3)
    assert.equal(app.wsConnections.broadcast('to-r', { room: 'r' }), 2)
    assert.equal(app.wsConnections.broadcast('to-r-but-a', { room: 'r', except: app.wsConnections.get(a.id) }), 1)
    assert.equal(app.wsConnections.broadcast('to-all-but-c', { except: app.wsConnections.get(c.id) }), 2)
    assert.equal(app.wsConnections.broadcast('to-nobody', { room: 'empty' }), 0)
    assert.equal(app.wsConnections.broadcast(Buffer.from([1, 2, 3]), { room: 'x' }), 1)
    // A marker sent last on each connection: everything broadcast before it has arrived when it does.
    for (const { id } of clients) void app.wsConnections.get(id)?.send('end')
    for (const { client } of clients) await waitFor(() => client.messages.at(-1) === 'end', 'the end marker')

    const received = (client: TestClient): Array<string | Buffer> => client.messages.slice(1, -1)
    assert.deepEqual(received(a.client), ['to-all', 'to-r', 'to-all-but-c'])
    assert.deepEqual(received(b.client), ['to-all', 'to-r', 'to-r-but-a', 'to-all-but-c', Buffer.from([1, 2, 3])])
    assert.deepEqual(received(c.client), ['to-all'])
  })

  test('broadcast skips a connection that is already closing', async (t) => {
    const { app, url } = await start(t)
    const a = await join(url)
    const b = await join(url)
    t.after(() => { a.client.socket.terminate(); b.client.socket.terminate() })
    app.wsConnections.get(a.id)?.close(1000)
    assert.equal(app.wsConnections.broadcast('late'), 1)
    assert.equal(await b.client.next(), 'late')
    assert.equal((await withExpiry(a.client.closed, 2000, 'the close of a')).code, 1000)
    assert.deepEqual(a.client.messages, [`id:${a.id}`], 'the closing connection got nothing after its id')
  })

  test('close(id, code, reason) closes that one connection with that code and reason', async (t) => {
    const { app, url } = await start(t)
    const a = await join(url)
    const b = await join(url)
    t.after(() => { a.client.socket.terminate(); b.client.socket.terminate() })
    assert.equal(app.wsConnections.close(a.id, 4000, 'go away'), true)
    assert.deepEqual(await withExpiry(a.client.closed, 2000, 'the close'), { code: 4000, reason: 'go away' })
    await waitFor(() => app.wsConnections.size === 1, 'the closed connection to leave')
    assert.equal(b.client.socket.readyState, b.client.socket.OPEN)
    assert.equal(app.wsConnections.close(a.id), false)
    assert.equal(app.wsConnections.close('no-such-id', 1000), false)
  })

  test('a closed connection leaves every room it was in', async (t) => {
    const { app, url } = await start(t)
    const a = await join(url, ['r', 's'])
    const b = await join(url, ['r'])
    t.after(() => { a.client.socket.terminate(); b.client.socket.terminate() })
    a.client.socket.terminate()
    await waitFor(() => app.wsConnections.size === 1, 'the terminated connection to leave')
    assert.deepEqual([...app.wsConnections.room('r')].map((c) => c.id), [b.id])
    assert.deepEqual([...app.wsConnections.roomNames()], ['r'])
    b.client.socket.close()
    await waitFor(() => app.wsConnections.size === 0, 'the registry to empty')
    assert.deepEqual([...app.wsConnections.roomNames()], [])
  })

  test('a connection that is closed cannot join a room', async (t) => {
    let connection: WsConnection | undefined
    const app = await buildApp({}, (app) => { app.wsRoute('/ws', (c) => { connection = c }) })
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/ws`)
    client.socket.close()
    await waitFor(() => app.wsConnections.size === 0, 'the registry to empty')
    connection?.join('late')
    assert.deepEqual([...app.wsConnections.roomNames()], [])
  })
})
