/**
 * The Prometheus exporter (`fastify-reliable-ws/metrics`): its text output after a scripted
 * scenario on real sockets, its scoping to one registration, its options and its dispose.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import { CloseCode } from '../../lib/index.js'
import { registerMetrics } from '../../lib/metrics/index.js'
import { encodeDataFrame } from '../../lib/protocol/frames.js'
import {
  SINGLE_ADDRESS_LOAD, buildApp, cleanup, closed, connect, echoRoute, listen, nextMessage, openClient, waitFor
} from '../helpers/server.js'
import { dropSession, openRawSession } from '../helpers/raw-session.js'

/** The value of one series in a text exposition, or undefined when the series is absent. */
function valueOf (text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

/** The scenario's app; `suspensions` counts the reliable sessions that lost their socket. */
async function scenarioApp (): Promise<{ app: FastifyInstance, suspensions: () => number }> {
  let suspensions = 0
  const app = await buildApp(SINGLE_ADDRESS_LOAD, (app) => {
    app.wsRoute('/ws', { rateLimit: { messagesPerSecond: 3, burstSeconds: 1 } }, (connection) => {
      connection.on('message', (data) => { void connection.send(data) })
    })
    app.wsRoute('/hb', { heartbeat: { pingInterval: 20, pongTimeout: 5000 } }, () => {})
    app.wsRoute('/r', { reliable: true }, (connection) => {
      connection.on('suspend', () => suspensions++)
      void connection.send('hi')
    })
  })
  return { app, suspensions: () => suspensions }
}

describe('the Prometheus exporter', () => {
  test('after a scripted scenario the text output shows its connections, traffic, closes, resumes, limits and round trips', async (t) => {
    const { app, suspensions } = await scenarioApp()
    t.after(() => cleanup(app))
    const registry = new Registry()
    const dispose = registerMetrics(app, { registry })
    t.after(dispose)
    const url = await listen(app)

    // Plain echo: two messages of 5 bytes each way, then a close with 4001.
    const plain = await connect(`${url}/ws`)
    for (const text of ['hello', 'world']) {
      const reply = nextMessage(plain)
      plain.send(text)
      await reply
    }
    plain.close(4001, 'done')
    await closed(plain)
    // A flood: cut with 4429.
    const flooder = await connect(`${url}/ws`)
    for (let i = 0; i < 10; i++) flooder.send('x')
    assert.equal((await closed(flooder, 5000)).code, CloseCode.RATE_LIMITED)
    // A heartbeat round trip.
    const beating = await openClient(`${url}/hb`)
    t.after(() => beating.socket.terminate())
    await waitFor(() => app.wsHeartbeat.stats().pongsReceived > 0, 'a pong', 5000)
    // Reliable: one session drops and resumes (it had received 'hi', so nothing is replayed), another stays suspended.
    const session = await openRawSession(`${url}/r`)
    await session.waitFrames(1)
    await dropSession(session)
    await waitFor(() => suspensions() === 1, 'the server to see the drop')
    const resumed = await openRawSession(`${url}/r`, session.resumeInfo())
    t.after(() => resumed.socket.terminate())
    assert.equal(resumed.welcome.resumed, true)
    const other = await openRawSession(`${url}/r`)
    await other.waitFrames(1)
    await dropSession(other)
    await waitFor(() => suspensions() === 2 && app.wsConnections.size === 3, 'every connection to settle')

    const text = await registry.metrics()
    const frame = encodeDataFrame('D', 1, 0, 'hi')
    const frameBytes = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength
    const expected: Record<string, number | undefined> = {
      'frws_connections{route="/ws"}': undefined,
      'frws_connections{route="/hb"}': 1,
      'frws_connections{route="/r"}': 1,
      frws_sessions_suspended: 1,
      frws_unacked_messages: 1,
      'frws_messages_total{direction="out",route="/r"}': 2,
      'frws_messages_total{direction="in",route="/r"}': undefined,
      'frws_bytes_total{direction="out",route="/r"}': 2 * frameBytes,
      'frws_closes_total{code="4001"}': 1,
      'frws_closes_total{code="4429"}': 1,
      'frws_closes_total{code="1006"}': 2,
      'frws_resumes_total{outcome="resumed"}': 1,
      'frws_limit_hits_total{limit="rateLimit",code="4429"}': 1
    }
    for (const [series, value] of Object.entries(expected)) assert.equal(valueOf(text, series), value, series)
    // The flood: the frames admitted before the cut (3, or more if the bucket refilled meanwhile) were read and echoed.
    const read = valueOf(text, 'frws_messages_total{direction="in",route="/ws"}') ?? 0
    const flooded = read - 2
    assert.ok(flooded >= 3 && flooded < 10, `${flooded} flood frames read`)
    assert.equal(valueOf(text, 'frws_messages_total{direction="out",route="/ws"}'), read)
    assert.equal(valueOf(text, 'frws_bytes_total{direction="in",route="/ws"}'), 10 + flooded)
    assert.equal(valueOf(text, 'frws_bytes_total{direction="out",route="/ws"}'), 10 + flooded)
    assert.ok((valueOf(text, 'frws_heartbeat_rtt_seconds_count') ?? 0) >= 1, text)
    assert.equal(valueOf(text, 'frws_heartbeat_rtt_seconds_bucket{le="+Inf"}'), valueOf(text, 'frws_heartbeat_rtt_seconds_count'))
  })

  test('counts only the registration it was given, and dispose removes the metrics and stops counting', async (t) => {
    const measured = await buildApp({}, (app) => echoRoute(app))
    const unmeasured = await buildApp({}, (app) => echoRoute(app))
    t.after(() => cleanup(measured))
    t.after(() => cleanup(unmeasured))
    const registry = new Registry()
    const dispose = registerMetrics(measured, { registry, prefix: 'app_' })
    for (const app of [measured, unmeasured]) {
      const client = await connect(`${await listen(app)}/ws`)
      const reply = nextMessage(client)
      client.send('ping')
      await reply
    }
    const text = await registry.metrics()
    assert.equal(valueOf(text, 'app_connections{route="/ws"}'), 1)
    assert.equal(valueOf(text, 'app_messages_total{direction="in",route="/ws"}'), 1)
    assert.doesNotMatch(text, /^frws_/m)

    dispose()
    dispose()
    assert.equal((await registry.metrics()).trim(), '')
    // Registering again after dispose starts from zero: the old subscriptions are gone.
    const again = registerMetrics(measured, { registry, prefix: 'app_' })
    t.after(again)
    assert.equal(valueOf(await registry.metrics(), 'app_messages_total{direction="in",route="/ws"}'), undefined)
  })

  test('invalid options and an app without the plugin throw FRWS_ERR_OPTION_INVALID naming the option', async (t) => {
    const app = await buildApp({})
    t.after(() => app.close())
    const registry = new Registry()
    const cases: Array<[unknown, RegExp]> = [
      [{ registry, prefix: 'bad-prefix' }, /"prefix"/],
      [{ registry, rttBuckets: [0.1, 0.05] }, /"rttBuckets"/],
      [{ registry: {} }, /"registry"/],
      [{ registry, unknown: 1 }, /"unknown"/]
    ]
    for (const [options, message] of cases) {
      assert.throws(() => registerMetrics(app, options as never), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'FRWS_ERR_OPTION_INVALID')
        assert.match(error.message, message)
        return true
      })
    }
    const bare = Fastify()
    t.after(() => bare.close())
    assert.throws(() => registerMetrics(bare, { registry }), /"app"/)
    assert.equal((await registry.metrics()).trim(), '', 'nothing registered by a failed call')
  })
})
