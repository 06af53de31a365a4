// lib/registry.ts against its mutants, on real sockets: broadcasts that travel to another node
// through the `fanout` option (two apps in this process joined by an in-process Fanout, a real
// implementation of the interface, not a mock of one), and `whenEmpty()`.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type { Fanout, FanoutMessage } from '../../lib/fanout/fanout.js'
import { buildApp, cleanup, listen, openClient, waitFor, withExpiry } from '../helpers/server.js'
import type { TestClient } from '../helpers/server.js'
import { zodChat } from '../messages/schemas.js'

/** Nodes of one application in this process: what one publishes, every other one receives (a copy, on a later turn). */
class LocalBus {
  readonly published: FanoutMessage[] = []
  readonly #nodes = new Set<(message: FanoutMessage) => void>()

  node (): Fanout {
    let receive: ((message: FanoutMessage) => void) | undefined
    return {
      start: async (onMessage) => { receive = onMessage; this.#nodes.add(onMessage) },
      publish: (message) => {
        this.published.push(message)
        const copy = structuredClone(message)
        for (const other of this.#nodes) if (other !== receive) setImmediate(other, copy)
      },
      close: async () => { if (receive !== undefined) this.#nodes.delete(receive) }
    }
  }
}

/** An app whose `/ws` joins the rooms of `?rooms=` and whose `/typed` (zodChat) joins `chat`. */
async function node (t: { after: (fn: () => unknown) => void }, bus: LocalBus): Promise<{ app: FastifyInstance, url: string }> {
  const app = await buildApp({ fanout: bus.node(), upgradeRate: false, maxConnectionsPerAddress: Infinity }, (app) => {
    app.wsRoute('/ws', (connection, request) => {
      const rooms = new URL(request.url, 'http://x').searchParams.get('rooms')
      for (const room of rooms === null || rooms === '' ? [] : rooms.split(',')) connection.join(room)
      void connection.send('ready')
    })
    app.wsRoute('/typed', { messages: zodChat }, (connection) => {
      connection.join('chat')
      void connection.send({ type: 'said', text: 'ready', at: 0 })
    })
  })
  t.after(() => cleanup(app))
  return { app, url: await listen(app) }
}

async function client (url: string): Promise<TestClient> {
  const opened = await openClient(url)
  assert.match(String(await opened.next()), /ready/)
  return opened
}

/** What a client received after its greeting, once `marker` (the last thing broadcast) arrived. */
async function receivedUntil (opened: TestClient, marker: string): Promise<Array<string | Buffer>> {
  await waitFor(() => opened.messages.some((m) => String(m).includes(marker)), `the marker ${marker}`, 5000)
  return opened.messages.slice(1, opened.messages.findIndex((m) => String(m).includes(marker)))
}

describe('the registry with a fan-out', () => {
  it('publishes each broadcast once, with its room and bytes, and the other node delivers it to the right members', async (t) => {
    const bus = new LocalBus()
    const a = await node(t, bus)
    const b = await node(t, bus)
    const inRoom = await client(`${b.url}/ws?rooms=r`)
    const outside = await client(`${b.url}/ws`)
    const local = await client(`${a.url}/ws?rooms=r`)

    const bytes = new Uint8Array([9, 1, 2, 3, 4, 9])
    assert.equal(a.app.wsConnections.broadcast('to all'), 1, 'node A counts its own connections only')
    a.app.wsConnections.broadcast(bytes.buffer.slice(1, 4), { room: 'r' }) // an ArrayBuffer
    a.app.wsConnections.broadcast(new DataView(bytes.buffer, 2, 3), { room: 'r' }) // a view into a larger buffer
    a.app.wsConnections.broadcast(Buffer.from('buf'))
    a.app.wsConnections.broadcast('end')

    assert.deepEqual(bus.published, [
      { kind: 'broadcast', data: 'to all' },
      { kind: 'broadcast', data: new Uint8Array([1, 2, 3]), room: 'r' },
      { kind: 'broadcast', data: new Uint8Array([2, 3, 4]), room: 'r' },
      { kind: 'broadcast', data: Buffer.from('buf') },
      { kind: 'broadcast', data: 'end' }
    ])
    const binary = (...values: number[]): Buffer => Buffer.from(values)
    assert.deepEqual(await receivedUntil(inRoom, 'end'), ['to all', binary(1, 2, 3), binary(2, 3, 4), Buffer.from('buf')])
    assert.deepEqual(await receivedUntil(outside, 'end'), ['to all', Buffer.from('buf')])
    assert.deepEqual(await receivedUntil(local, 'end'), ['to all', binary(1, 2, 3), binary(2, 3, 4), Buffer.from('buf')])
  })

  it('a typed broadcast travels encoded and the other node sends it as it is', async (t) => {
    const bus = new LocalBus()
    const a = await node(t, bus)
    const b = await node(t, bus)
    const remote = await client(`${b.url}/typed`)
    await waitFor(() => b.app.wsConnections.room('chat').size === 1, 'the member on node B')
    assert.equal(a.app.wsConnections.broadcast({ type: 'said', text: 'hello', at: 1 }, { room: 'chat', messages: zodChat }), 0)
    a.app.wsConnections.broadcast({ type: 'said', text: 'end', at: 2 }, { room: 'chat', messages: zodChat })
    assert.deepEqual(bus.published.map((m) => ({ ...m, data: JSON.parse(String(m.kind === 'broadcast' ? m.data : '')) })), [
      { kind: 'broadcast', room: 'chat', encoded: true, data: { type: 'said', text: 'hello', at: 1 } },
      { kind: 'broadcast', room: 'chat', encoded: true, data: { type: 'said', text: 'end', at: 2 } }
    ])
    const received = await receivedUntil(remote, '"end"')
    assert.deepEqual(received.map((m) => JSON.parse(String(m))), [{ type: 'said', text: 'hello', at: 1 }])
  })
})

describe('whenEmpty()', () => {
  it('resolves at once with no connection, and only when the last of two connections closed', async (t) => {
    const app = await buildApp({ upgradeRate: false }, (app) => {
      app.wsRoute('/ws', (connection) => { void connection.send('ready') })
    })
    t.after(() => cleanup(app))
    const url = `${await listen(app)}/ws`
    await withExpiry(app.wsConnections.whenEmpty(), 2000, 'whenEmpty of an empty registry')

    const first = await client(url)
    const second = await client(url)
    const order: string[] = []
    const emptied = app.wsConnections.whenEmpty().then(() => { order.push('empty') })
    const emptiedToo = app.wsConnections.whenEmpty().then(() => { order.push('empty too') })
    first.socket.close(1000)
    await waitFor(() => app.wsConnections.size === 1, 'the first connection to leave the registry')
    order.push('first gone')
    second.socket.close(1000)
    await withExpiry(Promise.all([emptied, emptiedToo]), 2000, 'both waiters')
    assert.deepEqual(order, ['first gone', 'empty', 'empty too'])
    await withExpiry(app.wsConnections.whenEmpty(), 2000, 'whenEmpty once empty again')

    // A second round: the waiters of the first are gone, the new one is called once.
    const third = await client(url)
    const again = app.wsConnections.whenEmpty().then(() => { order.push('empty again') })
    third.socket.close(1000)
    await withExpiry(again, 2000, 'the waiter of the second round')
    assert.deepEqual(order, ['first gone', 'empty', 'empty too', 'empty again'])
    const fourth = await client(url)
    fourth.socket.send('still serving')
    assert.equal(app.wsConnections.size, 1)
  })
})

describe('broadcast() with messages', () => {
  it('refuses schemas that are not schemas, and a value its schema refuses, naming what is wrong; nothing is sent', async (t) => {
    const bus = new LocalBus()
    const a = await node(t, bus)
    const member = await client(`${a.url}/typed`)
    await waitFor(() => a.app.wsConnections.room('chat').size === 1, 'the member')
    assert.throws(
      () => a.app.wsConnections.broadcast({} as never, { room: 'chat', messages: { fromServer: 42 } as never }),
      { code: 'FRWS_ERR_MESSAGE_INVALID', message: 'Invalid outgoing message : messages.fromServer is not a Standard Schema v1 schema' }
    )
    assert.throws(
      // @ts-expect-error: `text` must be a string
      () => a.app.wsConnections.broadcast({ type: 'said', text: 1, at: 1 }, { room: 'chat', messages: zodChat }),
      (error: Error & { code?: string }) => error.code === 'FRWS_ERR_MESSAGE_INVALID' && /^Invalid outgoing message at /.test(error.message)
    )
    a.app.wsConnections.broadcast({ type: 'said', text: 'end', at: 2 }, { room: 'chat', messages: zodChat })
    assert.deepEqual((await receivedUntil(member, '"end"')), [], 'nothing before the valid broadcast')
    assert.equal(bus.published.length, 1, 'only the valid broadcast was published')
  })
})
