import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js'

/** Collects what a socket receives; `waitFor` resolves once `text` has arrived. */
function collect (socket: Socket): { text: () => string, waitFor: (text: string) => Promise<void> } {
  let received = ''
  const waiters: Array<() => void> = []
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    received += chunk
    for (const waiter of waiters.splice(0)) waiter()
  })
  return {
    text: () => received,
    async waitFor (text) {
      while (!received.includes(text)) await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
}

async function waitUntil (condition: () => boolean, timeout = 2000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeout} ms`)
    await delay(5)
  }
}

describe('startTcpProxy', { timeout: 10_000 }, () => {
  let upstream: Server
  let proxy: TcpProxy
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
    proxy = await startTcpProxy({ targetPort: address.port })
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

  test('it forwards data both ways', async () => {
    const { client, server } = await open()
    const atServer = collect(server)
    const atClient = collect(client)
    client.write('hello')
    await atServer.waitFor('hello')
    server.write('world')
    await atClient.waitFor('world')
    assert.equal(proxy.connections, 1)
    client.destroy()
    await waitUntil(() => proxy.connections === 0)
  })

  test('a blackhole holds data both ways while both sockets stay open, and restore() delivers it in order', async () => {
    const { client, server } = await open()
    const atServer = collect(server)
    const atClient = collect(client)
    proxy.blackhole()
    client.write('held-up')
    server.write('held-down')
    // Both chunks reached the proxy (which is what would forward them) and were held.
    await waitUntil(() => proxy.heldBytes === 'held-up'.length + 'held-down'.length)
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
    client.destroy()
    await waitUntil(() => proxy.connections === 0)
  })

  test('a side that closes during a blackhole is hidden from the other side until restore()', async () => {
    const { client, server } = await open()
    proxy.blackhole()
    client.write('never')
    server.destroy()
    // The proxy saw the close (without a blackhole it would pass it on at once) and hides it.
    await waitUntil(() => proxy.hiddenCloses === 1)
    assert.equal(proxy.connections, 1)
    assert.equal(client.destroyed, false, 'the client does not see the close through a dead network')
    const closed = once(client, 'close')
    proxy.restore()
    await closed
    assert.equal(proxy.connections, 0)
    assert.equal(proxy.droppedBytes, 'never'.length, 'what was held for the dead connection is lost with it')
  })

  test('cutAll() ends every pair at once', async () => {
    const first = await open()
    const second = await open()
    assert.equal(proxy.connections, 2)
    const closes = [first.client, second.client, first.server, second.server].map((socket) => once(socket, 'close'))
    proxy.cutAll()
    await Promise.all(closes)
    assert.equal(proxy.connections, 0)
    const third = await open()
    const atServer = collect(third.server)
    third.client.write('still works')
    await atServer.waitFor('still works')
    third.client.destroy()
    await waitUntil(() => proxy.connections === 0)
  })
})
