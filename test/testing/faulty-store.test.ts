import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { ReliableClient } from '../../lib/client/index.js'
import type { ClientCloseEvent } from '../../lib/client/index.js'
import { MemorySessionStore } from '../../lib/index.js'
import type { WsMessage } from '../../lib/index.js'
import { connectClient, faultyStore, startApp } from '../../lib/testing/index.js'
import { LogLevel, captureLogs, waitFor, withExpiry } from '../helpers/server.js'

const CREATE = { route: '/r', principal: null, tokenHash: 'hash', ownerId: 'owner-1' }

describe('faultyStore', () => {
  test('without faults every call reaches the wrapped store and is counted', async (t) => {
    const store = faultyStore(new MemorySessionStore())
    t.after(() => store.close())
    const state = await store.create(CREATE)
    assert.equal(await store.update(state.sessionId, 'owner-1', { clientDelivered: 3 }), true)
    assert.equal((await store.inner.get(state.sessionId))?.clientDelivered, 3)
    assert.equal((await store.get(state.sessionId))?.clientDelivered, 3)
    assert.deepEqual(store.calls, { create: 1, claim: 0, update: 1, release: 0, delete: 0, get: 1 })
    assert.deepEqual(store.failures, { create: 0, claim: 0, update: 0, release: 0, delete: 0, get: 0 })
  })

  test('latency makes every call take at least that long; per-method latency only that method', async (t) => {
    const store = faultyStore(new MemorySessionStore(), { latency: 60 })
    t.after(() => store.close())
    let started = Date.now()
    const state = await store.create(CREATE)
    assert.ok(Date.now() - started >= 60, `create took ${Date.now() - started} ms, expected >= 60`)

    store.setLatency({ get: 80 })
    started = Date.now()
    await store.get(state.sessionId)
    assert.ok(Date.now() - started >= 80, `get took ${Date.now() - started} ms, expected >= 80`)
    // update has no latency now: it settles before a get started after it, which waits 80 ms.
    const order: string[] = []
    const slowGet = store.get(state.sessionId).then(() => order.push('get'))
    await store.update(state.sessionId, 'owner-1', { clientDelivered: 1 }).then(() => order.push('update'))
    await slowGet
    assert.deepEqual(order, ['update', 'get'])
  })

  test('failNext(method, error) fails the next call of that method only, without reaching the store', async (t) => {
    const store = faultyStore(new MemorySessionStore())
    t.after(() => store.close())
    const state = await store.create(CREATE)
    const boom = new Error('redis timeout')
    store.failNext('update', boom)
    store.failNext('update')
    await assert.rejects(store.update(state.sessionId, 'owner-1', { clientDelivered: 5 }), boom)
    await assert.rejects(store.update(state.sessionId, 'owner-1', { clientDelivered: 6 }), /injected session store failure in update\(\)/)
    assert.equal((await store.get(state.sessionId))?.clientDelivered, 0, 'the failed updates never reached the store')
    assert.equal(await store.update(state.sessionId, 'owner-1', { clientDelivered: 7 }), true)
    assert.equal((await store.get(state.sessionId))?.clientDelivered, 7)
    assert.equal(store.failures.update, 2)
    assert.equal(store.calls.update, 3)
  })

  test('failAll() fails every method until heal(), which also forgets queued failures', async (t) => {
    const store = faultyStore(new MemorySessionStore())
    t.after(() => store.close())
    const state = await store.create(CREATE)
    const down = new Error('connection refused')
    store.failAll(down)
    await assert.rejects(store.get(state.sessionId), down)
    await assert.rejects(store.release(state.sessionId, 'owner-1', 1000), down)
    await assert.rejects(store.create(CREATE), down)
    store.failNext('get')
    store.heal()
    assert.equal((await store.get(state.sessionId))?.sessionId, state.sessionId)
    assert.equal(await store.release(state.sessionId, 'owner-1', 1000), true)
  })

  test('bad arguments throw', () => {
    const store = faultyStore(new MemorySessionStore())
    assert.throws(() => faultyStore(new MemorySessionStore(), { latency: -1 }), RangeError)
    assert.throws(() => store.setLatency({ claim: Number.POSITIVE_INFINITY }), RangeError)
    assert.throws(() => store.failNext('close' as 'get'), TypeError)
  })
})

describe('a reliable route on a faulty store', () => {
  test('a store failure while creating the session closes that connection with 1011, logs it at error, and the client gets a session on its retry', async (t) => {
    const store = faultyStore(new MemorySessionStore())
    store.failNext('create', new Error('store unreachable'))
    const logs = captureLogs()
    const server = await startApp((app) => {
      app.wsRoute('/r', { reliable: {} }, (connection) => {
        connection.on('message', (data: WsMessage) => { void connection.send(data) })
      })
    }, { plugin: { sessionStore: store }, fastify: { logger: { level: 'info', stream: logs.stream } } })
    t.after(() => server.close())

    const client = new ReliableClient(`${server.url}/r`, { WebSocket, baseDelay: 20, maxDelay: 200 })
    t.after(() => client.close())
    const closes: ClientCloseEvent[] = []
    client.on('close', (event) => closes.push(event))
    const opened = new Promise<void>((resolve) => client.once('open', () => resolve()))
    await withExpiry(opened, 5000, 'the client to open a session after the failed attempt')

    assert.equal(closes.length, 1)
    assert.equal(closes[0].code, 1011)
    assert.equal(closes[0].reason, 'internal error')
    assert.equal(closes[0].willReconnect, true)
    assert.equal(store.failures.create, 1)
    assert.equal(store.calls.create, 2)
    const failure = logs.lines.find((line) => line.level === LogLevel.error && line.msg === 'reliable handshake failed')
    assert.ok(failure !== undefined, 'the failure is logged at error')
    assert.equal((failure.err as { message: string }).message, 'store unreachable')
    const reply = new Promise((resolve) => client.once('message', resolve))
    await client.send('works')
    assert.equal(await withExpiry(reply, 5000, 'the echo'), 'works')
  })

  test('a failed store write is logged at error and the live connection carries on', async (t) => {
    const store = faultyStore(new MemorySessionStore())
    const logs = captureLogs()
    const received: string[] = []
    const server = await startApp((app) => {
      app.wsRoute('/r', { reliable: {} }, (connection) => {
        connection.on('message', (data: WsMessage) => received.push(String(data)))
      })
    }, { plugin: { sessionStore: store }, fastify: { logger: { level: 'info', stream: logs.stream } } })
    t.after(() => server.close())
    const client = await connectClient(`${server.url}/r`)
    t.after(() => client.close())

    store.failNext('update', new Error('write lost'))
    await client.send('one')
    await waitFor(() => store.failures.update === 1, 'the update to fail', 5000)
    await client.send('two')
    assert.deepEqual(received, ['one', 'two'])
    await waitFor(() => logs.lines.some((line) => line.msg === 'session store update failed'), 'the log line', 5000)
    const line = logs.lines.find((entry) => entry.msg === 'session store update failed')
    assert.equal(line?.level, LogLevel.error)
    assert.equal((line?.err as { message: string }).message, 'write lost')
    assert.equal(typeof line?.session, 'string', 'the line names the session by its tag')
    assert.ok(store.calls.update > store.failures.update, 'later writes reached the store')
    assert.equal(typeof line?.retryDelay, 'number', 'the failed write is retried')
    // The failed write is retried, not dropped: the store ends up with both deliveries.
    const sessionId = client.sessionId ?? ''
    let stored = 0
    const poll = setInterval(() => { void store.inner.get(sessionId).then((state) => { stored = state?.clientDelivered ?? 0 }) }, 20)
    t.after(() => clearInterval(poll))
    await waitFor(() => stored === 2, 'the store to hold both deliveries', 5000)
  })

  test('a slow store delays the welcome by at least its latency, and the session works', async (t) => {
    const store = faultyStore(new MemorySessionStore(), { latency: { create: 150 } })
    const server = await startApp((app) => {
      app.wsRoute('/r', { reliable: {} }, (connection) => {
        connection.on('message', (data: WsMessage) => { void connection.send(data) })
      })
    }, { plugin: { sessionStore: store } })
    t.after(() => server.close())
    const started = Date.now()
    const client = await connectClient(`${server.url}/r`)
    t.after(() => client.close())
    assert.ok(Date.now() - started >= 150, `the session opened after ${Date.now() - started} ms, expected >= 150`)
    const reply = new Promise((resolve) => client.once('message', resolve))
    await client.send('slow but sure')
    assert.equal(await withExpiry(reply, 5000, 'the echo'), 'slow but sure')
  })
})
