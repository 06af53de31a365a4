import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connectClient, createFaultProxy, startApp } from '../../lib/testing/index.js'

describe('startApp', () => {
  test('listens on 127.0.0.1 and a free port, with the plugin registered', async (t) => {
    const server = await startApp((app) => {
      app.wsRoute('/echo', { reliable: {} }, (connection) => {
        connection.on('message', (data) => { void connection.send(data) })
      })
    })
    t.after(() => server.close())
    assert.equal(server.url, `ws://127.0.0.1:${server.port}`)
    assert.ok(server.port > 0)
    assert.equal(typeof server.app.wsConnections.size, 'number')
  })

  test('a setup that throws rejects, and the app is closed', async () => {
    let closed = false
    await assert.rejects(startApp((app) => {
      app.addHook('onClose', async () => { closed = true })
      throw new Error('bad route')
    }), /bad route/)
    assert.equal(closed, true)
  })
})

describe('connectClient', () => {
  test('rejects when the client gives up before its first session', async () => {
    const server = await startApp(() => {})
    const { url } = server
    await server.close()
    await assert.rejects(connectClient(`${url}/nothing`, { maxAttempts: 0 }), /gave up before its first session/)
  })

  test('rejects after openTimeout when no session comes, and closes the client', async (t) => {
    const server = await startApp((app) => {
      app.wsRoute('/r', { reliable: {} }, () => {})
    })
    t.after(() => server.close())
    const proxy = await createFaultProxy({ target: server.url })
    t.after(() => proxy.close())
    proxy.blackhole()
    await assert.rejects(connectClient(`${proxy.url}/r`, { openTimeout: 200 }), /no session within 200 ms/)
    // The client was closed: its socket through the proxy is gone once the proxy lets its close through.
    proxy.restore()
    const deadline = Date.now() + 5000
    while (proxy.connections > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.equal(proxy.connections, 0)
  })
})
