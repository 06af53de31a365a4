import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { createFaultProxy, type FaultProxy } from '../../lib/testing/index.js'
import { resolveTarget } from '../../lib/testing/proxy-target.js'
import { waitFor } from '../helpers/server.js'

/** What a socket receives, with the Date.now() of each chunk's arrival. */
interface Collector {
  text: () => string
  /** Date.now() when the received text first contained `text`. */
  arrivedAt: (text: string) => number | undefined
  waitFor: (text: string) => Promise<void>
}

function collect (socket: Socket): Collector {
  let received = ''
  const arrivals: Array<{ length: number, at: number }> = []
  const waiters: Array<() => void> = []
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    received += chunk
    arrivals.push({ length: received.length, at: Date.now() })
    for (const waiter of waiters.splice(0)) waiter()
  })
  return {
    text: () => received,
    arrivedAt (text) {
      const end = received.indexOf(text)
      if (end === -1) return undefined
      return arrivals.find((arrival) => arrival.length >= end + text.length)?.at
    },
    async waitFor (text) {
      while (!received.includes(text)) await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
}

/** Resolves when `socket` closes; unlike `once(socket, 'close')` it does not reject on the 'error' a reset brings. */
function closed (socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()))
}

async function waitUntil (condition: () => boolean, timeout = 2000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeout} ms`)
    await delay(5)
  }
}

describe('resolveTarget', () => {
  test('a port means 127.0.0.1', () => {
    assert.deepEqual(resolveTarget(3000), { host: '127.0.0.1', port: 3000, secure: false })
  })

  test('host:port, with IPv6 in brackets', () => {
    assert.deepEqual(resolveTarget('localhost:8080'), { host: 'localhost', port: 8080, secure: false })
    assert.deepEqual(resolveTarget('[::1]:8080'), { host: '::1', port: 8080, secure: false })
  })

  test('the URL app.listen() resolves to, and ws/wss URLs with their default ports', () => {
    assert.deepEqual(resolveTarget('http://127.0.0.1:4321'), { host: '127.0.0.1', port: 4321, secure: false })
    assert.deepEqual(resolveTarget('http://[::1]:4321'), { host: '::1', port: 4321, secure: false })
    assert.deepEqual(resolveTarget('wss://example.com/chat'), { host: 'example.com', port: 443, secure: true })
    assert.deepEqual(resolveTarget('ws://example.com'), { host: 'example.com', port: 80, secure: false })
  })

  test('anything else throws a TypeError naming the target', () => {
    for (const target of [0, 70000, 1.5, 'nohost', 'host:', 'host:abc', 'ftp://x:21', 'http://', ':80']) {
      assert.throws(() => resolveTarget(target), (error: Error) => error instanceof TypeError && error.message.includes(JSON.stringify(target)), String(target))
    }
  })
})

describe('createFaultProxy', { timeout: 10_000 }, () => {
  let upstream: Server
  let upstreamPort: number
  let proxy: FaultProxy
  const serverSides: Socket[] = []

  before(async () => {
    upstream = createServer((socket) => {
      serverSides.push(socket)
      socket.on('error', () => {})
    })
    upstream.listen(0, '127.0.0.1')
    await once(upstream, 'listening')
    const address = upstream.address()
    assert.ok(address !== null && typeof address === 'object')
    upstreamPort = address.port
    proxy = await createFaultProxy({ target: upstreamPort })
  })

  after(async () => {
    await proxy.close()
    for (const socket of serverSides) socket.destroy()
    await new Promise<void>((resolve) => upstream.close(() => resolve()))
  })

  async function open (): Promise<{ client: Socket, server: Socket }> {
    const count = serverSides.length
    const client = connect(proxy.port, '127.0.0.1')
    client.on('error', () => {})
    await once(client, 'connect')
    await waitUntil(() => serverSides.length > count)
    return { client, server: serverSides[serverSides.length - 1] }
  }

  async function closePair (client: Socket): Promise<void> {
    client.destroy()
    await waitUntil(() => proxy.connections === 0)
  }

  test('its url is ws:// on its own port, wss:// for a TLS target', async (t) => {
    assert.equal(proxy.url, `ws://127.0.0.1:${proxy.port}`)
    const secure = await createFaultProxy({ target: `https://127.0.0.1:${upstreamPort}` })
    t.after(() => secure.close())
    assert.equal(secure.url, `wss://127.0.0.1:${secure.port}`)
  })

  test('it forwards data both ways', async () => {
    const { client, server } = await open()
    const atServer = collect(server)
    const atClient = collect(client)
    client.write('hello')
    await atServer.waitFor('hello')
    server.write('world')
    await atClient.waitFor('world')
    assert.equal(proxy.connections, 1)
    await closePair(client)
  })

  test('a blackhole holds data both ways while both sockets stay open, and restore() delivers it in order', async () => {
    const { client, server } = await open()
    const atServer = collect(server)
    const atClient = collect(client)
    proxy.blackhole()
    client.write('held-up')
    server.write('held-down')
    // Both chunks reached the proxy (which is what would forward them) and were held.
    await waitFor(() => proxy.heldBytes === 'held-up'.length + 'held-down'.length, 'both chunks held')
    assert.equal(atServer.text(), '', 'nothing crosses a dead network')
    assert.equal(atClient.text(), '')
    assert.equal(client.destroyed, false)
    assert.equal(server.destroyed, false)
    assert.equal(proxy.connections, 1)
    proxy.restore()
    client.write('after-up')
    server.write('after-down')
    await atServer.waitFor('held-upafter-up')
    await atClient.waitFor('held-downafter-down')
    assert.equal(atServer.text(), 'held-upafter-up')
    assert.equal(atClient.text(), 'held-downafter-down')
    assert.equal(proxy.droppedBytes, 0)
    await closePair(client)
  })

  test('a connection opened during a blackhole is accepted, and its data passes only after restore()', async () => {
    proxy.blackhole()
    const { client, server } = await open()
    const atServer = collect(server)
    client.write('first words')
    const probe = await open()
    const atProbe = collect(probe.server)
    probe.client.write('probe')
    proxy.restore()
    await atProbe.waitFor('probe')
    await atServer.waitFor('first words')
    assert.equal(atServer.text(), 'first words')
    probe.client.destroy()
    await closePair(client)
  })

  test('a side that closes during a blackhole is hidden from the other side until restore()', async () => {
    const droppedBefore = proxy.droppedBytes
    const { client, server } = await open()
    proxy.blackhole()
    client.write('never')
    server.destroy()
    // The proxy saw the close (without a blackhole it would pass it on at once) and hides it.
    await waitFor(() => proxy.hiddenCloses === 1, 'the close to be hidden')
    assert.equal(proxy.connections, 1)
    assert.equal(client.destroyed, false, 'the client does not see the close through a dead network')
    const clientClosed = closed(client)
    proxy.restore()
    await clientClosed
    assert.equal(proxy.connections, 0)
    assert.equal(proxy.droppedBytes - droppedBefore, 'never'.length, 'what was held for the dead connection is lost with it')
  })

  test('cut() resets every connection at once, and new connections pass as before', async () => {
    const first = await open()
    const second = await open()
    assert.equal(proxy.connections, 2)
    const resets = [first.client, second.client].map((socket) => once(socket, 'error'))
    const closes = [first.client, second.client, first.server, second.server].map(closed)
    proxy.cut()
    const errors = await Promise.all(resets)
    assert.deepEqual(errors.map(([error]) => (error as NodeJS.ErrnoException).code), ['ECONNRESET', 'ECONNRESET'], 'the peers see a TCP reset')
    await Promise.all(closes)
    assert.equal(proxy.connections, 0)
    const third = await open()
    const atServer = collect(third.server)
    third.client.write('still works')
    await atServer.waitFor('still works')
    await closePair(third.client)
  })

  test('delay(ms) makes every chunk arrive at least ms later, both ways, in order', async () => {
    const latency = 150
    const { client, server } = await open()
    const atServer = collect(server)
    const atClient = collect(client)
    proxy.delay(latency)
    try {
      // Date.now() on both ends: the proxy times its delay with Date.now() too, so the bound is exact.
      const upSent = Date.now()
      client.write('a')
      client.write('b')
      client.write('c')
      await atServer.waitFor('abc')
      const upArrived = atServer.arrivedAt('a') as number
      assert.ok(upArrived - upSent >= latency, `client to server took ${upArrived - upSent} ms, expected >= ${latency}`)
      const downSent = Date.now()
      server.write('xyz')
      await atClient.waitFor('xyz')
      const downArrived = atClient.arrivedAt('xyz') as number
      assert.ok(downArrived - downSent >= latency, `server to client took ${downArrived - downSent} ms, expected >= ${latency}`)
      assert.equal(atServer.text(), 'abc')
    } finally {
      proxy.restore()
    }
    await closePair(client)
  })

  test('a shorter delay never lets later data overtake earlier data', async () => {
    const { client, server } = await open()
    const atServer = collect(server)
    proxy.delay(200)
    client.write('slow,')
    proxy.delay(0)
    client.write('fast')
    await atServer.waitFor('fast')
    assert.equal(atServer.text(), 'slow,fast')
    proxy.restore()
    await closePair(client)
  })

  test('restore() passes at once what a delay was still holding', async () => {
    const { client, server } = await open()
    const atServer = collect(server)
    // Far longer than the test's timeout: only restore() can deliver it in time.
    proxy.delay(60_000)
    client.write('late')
    await delay(20)
    assert.equal(atServer.text(), '')
    proxy.restore()
    await atServer.waitFor('late')
    await closePair(client)
  })

  test('delay(ms) during a blackhole lets the held data through ms after the call', async () => {
    const latency = 100
    const { client, server } = await open()
    const atServer = collect(server)
    proxy.blackhole()
    client.write('held')
    await delay(20)
    const mended = Date.now()
    proxy.delay(latency)
    await atServer.waitFor('held')
    const arrived = atServer.arrivedAt('held') as number
    assert.ok(arrived - mended >= latency, `arrived ${arrived - mended} ms after delay(), expected >= ${latency}`)
    proxy.restore()
    await closePair(client)
  })

  test('a close passes through a delay after the data before it, then the connection is gone', async () => {
    const { client, server } = await open()
    const atClient = collect(client)
    proxy.delay(50)
    server.end('goodbye')
    await closed(client)
    assert.equal(atClient.text(), 'goodbye')
    await waitUntil(() => proxy.connections === 0)
    proxy.restore()
  })

  test('cut() drops what a delay was still carrying, and counts it', async () => {
    const droppedBefore = proxy.droppedBytes
    const { client } = await open()
    proxy.delay(60_000)
    client.write('in flight')
    // Loopback hands the bytes to the proxy within a millisecond; 100 ms is slack for a busy machine.
    await delay(100)
    const clientClosed = closed(client)
    proxy.cut()
    await clientClosed
    proxy.restore()
    assert.equal(proxy.droppedBytes - droppedBefore, 'in flight'.length)
  })

  test('a connection to a target that is down is closed, and the proxy keeps none', async (t) => {
    const down = createServer()
    down.listen(0, '127.0.0.1')
    await once(down, 'listening')
    const { port } = down.address() as { port: number }
    await new Promise<void>((resolve) => down.close(() => resolve()))
    const nowhere = await createFaultProxy({ target: `127.0.0.1:${port}` })
    t.after(() => nowhere.close())
    const client = connect(nowhere.port, '127.0.0.1')
    client.on('error', () => {})
    await closed(client)
    assert.equal(nowhere.connections, 0)
  })

  test('listening on a port in use rejects', async () => {
    await assert.rejects(createFaultProxy({ target: upstreamPort, port: proxy.port }), { code: 'EADDRINUSE' })
  })

  test('delay() refuses a negative or non-finite latency', () => {
    assert.throws(() => proxy.delay(-1), RangeError)
    assert.throws(() => proxy.delay(Number.NaN), RangeError)
  })
})
