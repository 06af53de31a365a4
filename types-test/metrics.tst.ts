import diagnosticsChannel from 'node:diagnostics_channel'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import { describe, expect, test } from 'tstyche'
import { CHANNEL_NAMES, channels } from '../lib/index.js'
import type { ConnectionCloseMessage, MessageTrafficMessage, ResumeOutcome } from '../lib/index.js'
import { registerMetrics } from '../lib/metrics/index.js'
import type { DisposeMetrics } from '../lib/metrics/index.js'

describe('fastify-reliable-ws/metrics', () => {
  test('registerMetrics takes an app and a prom-client registry and returns a dispose function', () => {
    const app = Fastify()
    expect(registerMetrics(app, { registry: new Registry() })).type.toBe<DisposeMetrics>()
    expect(registerMetrics(app, { registry: new Registry(), prefix: 'ws_', rttBuckets: [0.01, 0.1] })).type.toBe<() => void>()
    expect(registerMetrics).type.not.toBeCallableWith(app, {})
    expect(registerMetrics).type.not.toBeCallableWith(app, { registry: new Registry(), prefix: 1 })
  })

  test('channel names are literal types and channels carry typed messages', () => {
    expect(CHANNEL_NAMES.connectionClose).type.toBe<'fastify-reliable-ws:connection:close'>()
    expect(channels.messageIn.publish).type.toBeCallableWith({ serverId: 's', connectionId: 'c', route: '/ws', bytes: 1 } satisfies MessageTrafficMessage)
    expect(channels.connectionClose.publish).type.not.toBeCallableWith({ code: 1000 })
    expect<ConnectionCloseMessage['cause']>().type.toBeAssignableFrom('timeout' as const)
    expect<ResumeOutcome>().type.toBe<'resumed' | 'continuity_lost' | 'refused'>()
    expect(diagnosticsChannel.subscribe).type.toBeCallableWith(CHANNEL_NAMES.messageOut, (_message: unknown) => {})
  })
})
