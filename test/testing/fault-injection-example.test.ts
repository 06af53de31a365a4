import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { connectClient, createFaultProxy, startApp } from '../../lib/testing/index.js'

test('every message arrives exactly once, in order, while the network is cut and blackholed', async (t) => {
  const received: string[] = []
  const server = await startApp((app) => {
    app.wsRoute('/counter', {
      reliable: {},
      // Notice a dead connection within about 200 ms instead of 35 s.
      heartbeat: { pingInterval: 100, pongTimeout: 100 }
    }, (connection) => {
      connection.on('message', (data) => { received.push(String(data)) })
    })
  })
  const proxy = await createFaultProxy({ target: server.url })
  const client = await connectClient(`${proxy.url}/counter`, { handshakeTimeout: 500 })
  t.after(async () => {
    proxy.restore()
    await client.close()
    await proxy.close()
    await server.close()
  })
  let resumes = 0
  let continuityLost = 0
  client.on('resumed', () => { resumes++ })
  client.on('continuityLost', () => { continuityLost++ })

  // The client keeps sending, one message every 5 ms, whatever the network does.
  const total = 300
  const acks: Array<Promise<void>> = []
  const sending = (async () => {
    for (let n = 1; n <= total; n++) {
      acks.push(client.send(String(n)))
      await sleep(5)
    }
  })()

  await sleep(200)
  proxy.cut() // Every connection through the proxy is reset.
  await new Promise((resolve) => client.once('resumed', resolve)) // the client reconnected

  await sleep(200)
  proxy.blackhole() // The cable is unplugged: sockets stay open, nothing passes.
  await new Promise((resolve) => client.once('close', resolve)) // the client's heartbeat gives up
  proxy.restore()

  await sending
  await Promise.all(acks) // each send() resolves when the server acknowledged it
  assert.deepEqual(received, Array.from({ length: total }, (_, i) => String(i + 1)))
  assert.equal(continuityLost, 0)
  assert.ok(resumes >= 2, `the session resumed ${resumes} time(s)`)
})
