/**
 * Payloads through a reliable route's schemas (lib/reliable/session-payloads.ts): how an invalid or
 * asynchronously validated message is logged and reported, what a failing `invalid` listener does,
 * and binary values a route without schemas sends as they are. Written from the survivors of its
 * mutation run (docs/TESTING.md, "Mutation testing").
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import type { InvalidMessage, ReliableConnection, WsRouteOptions } from '../../lib/index.js'
import { buildApp, captureLogs, cleanup, listen, LogLevel, waitFor } from '../helpers/server.js'
import type { LogLine } from '../helpers/server.js'
import { openPeer } from '../helpers/protocol-peer.js'
import type { ProtocolPeer } from '../helpers/protocol-peer.js'

const TIMEOUT = { timeout: 30_000 }

interface Rig {
  lines: LogLine[]
  connections: ReliableConnection[]
  received: unknown[]
  invalid: InvalidMessage[]
  peer: ProtocolPeer
}

async function rig (
  t: { after: (fn: () => unknown) => void },
  route: WsRouteOptions,
  onInvalid: (info: InvalidMessage) => void = () => {}
): Promise<Rig> {
  const { stream, lines } = captureLogs()
  const connections: ReliableConnection[] = []
  const received: unknown[] = []
  const invalid: InvalidMessage[] = []
  const app = await buildApp({}, (instance) => {
    instance.wsRoute('/r', route, (socket) => {
      const connection = socket as ReliableConnection
      connections.push(connection)
      connection.on('message', (message) => { received.push(message) })
      connection.on('invalid', (info) => { invalid.push(info); onInvalid(info) })
    })
  }, { logger: { level: 'debug', stream } })
  t.after(() => cleanup(app))
  const peer = await openPeer(`${await listen(app)}/r`)
  t.after(() => peer.terminate())
  await peer.handshake()
  await waitFor(() => connections.length === 1, 'the connection')
  return { lines, connections, received, invalid, peer }
}

const say = z.object({ type: z.literal('say'), text: z.string() })

describe('session payloads (mutation survivors)', () => {
  test('an invalid message is logged at info with the session tag, kind and path, and reported with the problem', TIMEOUT, async (t) => {
    const { connections, invalid, lines, peer, received } = await rig(t, { reliable: true, messages: { fromClient: say } })
    peer.sendData(1, JSON.stringify({ type: 'say', text: 5 }))
    peer.sendData(2, JSON.stringify({ type: 'say', text: 'fine' }))
    await waitFor(() => received.length === 1, 'the valid message')
    assert.deepEqual(received, [{ type: 'say', text: 'fine' }])
    assert.equal(invalid.length, 1)
    assert.equal(invalid[0].kind, 'message')
    assert.equal(invalid[0].path, 'text')
    assert.equal(typeof invalid[0].message, 'string')
    assert.ok(invalid[0].message.length > 0)
    assert.ok(invalid[0].issues.length > 0)
    const line = lines.find((l) => l.msg === 'reliable websocket message failed its schema')
    assert.ok(line !== undefined)
    assert.equal(line.level, LogLevel.info)
    assert.equal(line.session, connections[0].sessionTag)
    assert.equal(line.kind, 'message')
    assert.equal(line.path, 'text')
    assert.equal(lines.some((l) => l.level >= LogLevel.error), false, 'nothing at error')
  })

  test('a schema that validates asynchronously refuses the message, logged at error', TIMEOUT, async (t) => {
    const slow = z.object({ n: z.number() }).refine(async () => true)
    const { connections, invalid, lines, peer, received } = await rig(t, { reliable: true, messages: { fromClient: slow } })
    peer.sendData(1, JSON.stringify({ n: 1 }))
    await waitFor(() => invalid.length === 1, 'the report')
    assert.equal(invalid[0].kind, 'message')
    assert.deepEqual(received, [])
    const line = lines.find((l) => l.msg === 'reliable websocket schema validated asynchronously; message refused')
    assert.ok(line !== undefined)
    assert.equal(line.level, LogLevel.error)
    assert.equal(line.session, connections[0].sessionTag)
    assert.equal(line.kind, 'message')
    assert.equal(lines.some((l) => l.msg === 'reliable websocket message failed its schema'), false)
  })

  test('an invalid listener that throws fails the connection: logged, closed with 1011', TIMEOUT, async (t) => {
    const { lines, peer } = await rig(t, { reliable: true, messages: { fromClient: say } }, () => {
      throw new Error('listener broke')
    })
    peer.sendData(1, JSON.stringify({ type: 'shout' }))
    const closed = await peer.closed(5000)
    assert.equal(closed.code, 1011)
    const line = lines.find((l) => l.msg === 'websocket handler failed')
    assert.ok(line !== undefined)
    assert.equal((line.err as { message?: string }).message, 'listener broke')
  })

  test('a route without schemas sends an ArrayBuffer, a DataView and a Buffer as binary frames of exactly their bytes', TIMEOUT, async (t) => {
    const { connections, peer } = await rig(t, { reliable: true })
    const connection = connections[0]
    const backing = new Uint8Array([10, 11, 12, 13, 14, 15]).buffer
    void connection.send(backing.slice(0, 2)).catch(() => {})
    void connection.send(new DataView(backing, 3, 2)).catch(() => {})
    void connection.send(Buffer.from([20, 21])).catch(() => {})
    const frames = [await peer.nextOfType('D'), await peer.nextOfType('D'), await peer.nextOfType('D')]
    assert.deepEqual(frames.map((f) => f.isBinary), [true, true, true])
    assert.deepEqual(frames.map((f) => [...(f.frame as { payload: Uint8Array }).payload]), [[10, 11], [13, 14], [20, 21]])
  })
})
