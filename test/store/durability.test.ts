import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MemorySessionStore } from '../../lib/index.js'
import type { WsMessage } from '../../lib/index.js'
import type { SessionStore } from '../../lib/store/session-store.js'
import type { ReliableClient } from '../../lib/client/index.js'
import { connectClient, faultyStore, startApp } from '../../lib/testing/index.js'
import WebSocket from 'ws'
import { encodeHello } from '../../lib/protocol/handshake.js'
import { until } from '../scale-out/helpers.js'

const LATENCY = 300

/** A memory store that claims to outlive the process, as Redis does: sends then wait for the commit. */
function outlivingStore (): SessionStore {
  return Object.assign(new MemorySessionStore(), { outlivesProcess: true })
}

/** An app whose reliable route takes messages and sends nothing, on `store`, and a client connected to it. */
async function connectToSink (t: { after: (fn: () => unknown) => void }, store: SessionStore): Promise<ReliableClient> {
  const server = await startApp((app) => {
    app.wsRoute('/r', { reliable: {} }, (connection) => {
      connection.on('message', () => {})
    })
  }, { plugin: { sessionStore: store } })
  t.after(() => server.close())
  const client = await connectClient(`${server.url}/r`)
  t.after(() => client.close())
  return client
}

describe('durability rule (docs/SCALE-OUT.md)', () => {
  test('the server acknowledges a client message only once the store committed its delivery', async (t) => {
    const store = faultyStore(new MemorySessionStore())
    const client = await connectToSink(t, store)
    store.setLatency({ update: LATENCY })
    const sentAt = Date.now()
    await client.send('one')
    assert.ok(Date.now() - sentAt >= LATENCY, `acknowledged after ${Date.now() - sentAt} ms, not before the ${LATENCY} ms write`)
    assert.equal((await store.inner.get(client.sessionId ?? ''))?.clientDelivered, 1)
  })

  test('a failed write holds the ack back until its retry commits', async (t) => {
    const store = faultyStore(new MemorySessionStore())
    const client = await connectToSink(t, store)
    store.failNext('update')
    store.failNext('update')
    await client.send('one')
    assert.equal(store.failures.update, 2, 'acknowledged only after two failed writes and a retry')
    assert.equal((await store.inner.get(client.sessionId ?? ''))?.clientDelivered, 1)
    await client.send('two')
    assert.equal((await store.inner.get(client.sessionId ?? ''))?.clientDelivered, 2, 'later writes follow on')
  })

  test('with a store that outlives the process, a message reaches the socket only once recorded', async (t) => {
    const store = faultyStore(outlivingStore())
    const server = await startApp((app) => {
      app.wsRoute('/r', { reliable: {} }, (connection) => {
        connection.on('message', (data: WsMessage) => { void connection.send(`echo ${String(data)}`) })
      })
    }, { plugin: { sessionStore: store } })
    t.after(() => server.close())
    const client = await connectClient(`${server.url}/r`)
    t.after(() => client.close())
    store.setLatency({ update: LATENCY })
    const sentAt = Date.now()
    const echoed = new Promise<unknown>((resolve) => client.on('message', resolve))
    void client.send('one')
    const data = await echoed
    assert.equal(data, 'echo one')
    assert.ok(Date.now() - sentAt >= LATENCY, `echo arrived after ${Date.now() - sentAt} ms, not before the write`)
    const state = await store.inner.get(client.sessionId ?? '')
    assert.equal(state?.serverSeq, 1, 'the echo was recorded before it was sent')
    assert.equal(state?.clientDelivered, 1)
  })
})

describe('durability rule: sending after commits', () => {
  test('messages sent after their commit stay unacknowledged until the client acks them', async (t) => {
    const store = outlivingStore()
    let settled = 0
    let unacked = -1
    let sendSecond: (() => void) | undefined
    const server = await startApp((app) => {
      app.wsRoute('/r', { reliable: {} }, (connection) => {
        void connection.send('first').then(() => { settled++ }, () => {})
        sendSecond = () => {
          void connection.send('second').then(() => { settled++ }, () => {})
          void connection.send('third').then(() => { settled++ }, () => {})
          setTimeout(() => { unacked = connection.unackedCount }, 200)
        }
      })
    }, { plugin: { sessionStore: store } })
    t.after(() => server.close())
    // A raw client that reads but never acks.
    const socket = new WebSocket(`${server.url}/r`, 'frws.v2')
    t.after(() => socket.terminate())
    const frames: string[] = []
    socket.on('message', (data) => { frames.push(String(data)) })
    await new Promise((resolve) => socket.once('open', resolve))
    socket.send(encodeHello({ version: 2 }))
    await until(() => frames.some((frame) => frame.endsWith('first')), 'the first message')
    sendSecond?.()
    await until(() => unacked >= 0, 'the server to look again')
    assert.equal(frames.filter((frame) => /second|third/.test(frame)).length, 2, 'both later messages reached the socket')
    assert.equal(unacked, 3, 'nothing counts as acknowledged without an ack')
    assert.equal(settled, 0, 'no send() resolved without an ack')
  })
})
