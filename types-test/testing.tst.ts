import { describe, expect, test } from 'tstyche'
import type { ReliableClient } from '../lib/client/index.js'
import { MemorySessionStore } from '../lib/index.js'
import type { SessionStore } from '../lib/index.js'
import { connectClient, createFaultProxy, faultyStore, startApp } from '../lib/testing/index.js'
import type { FaultProxy, StartedApp } from '../lib/testing/index.js'

describe('fastify-reliable-ws/testing', () => {
  test('a fault proxy targets a port, "host:port" or a URL', () => {
    expect(createFaultProxy({ target: 3000 })).type.toBe<Promise<FaultProxy>>()
    expect(createFaultProxy({ target: 'http://127.0.0.1:3000', host: '127.0.0.1', port: 0 })).type.toBe<Promise<FaultProxy>>()
    expect(createFaultProxy).type.not.toBeCallableWith({ target: { port: 3000 } })
    expect(createFaultProxy).type.not.toBeCallableWith({})
  })

  test('a faulty store is a SessionStore whose faults name real methods', () => {
    const store = faultyStore(new MemorySessionStore(), { latency: { claim: 10 } })
    expect(store).type.toBeAssignableTo<SessionStore>()
    expect(store.failNext).type.toBeCallableWith('update', new Error('x'))
    expect(store.failNext).type.not.toBeCallableWith('close')
    expect(faultyStore).type.not.toBeCallableWith(new MemorySessionStore(), { latency: { connect: 10 } })
  })

  test('startApp accepts any setup, connectClient resolves to a ReliableClient', () => {
    expect(startApp((app) => app.wsRoute('/chat', { reliable: {} }, () => {}))).type.toBe<Promise<StartedApp>>()
    expect(connectClient('ws://127.0.0.1:1/chat', { openTimeout: 100, maxAttempts: 3 })).type.toBe<Promise<ReliableClient>>()
  })
})
