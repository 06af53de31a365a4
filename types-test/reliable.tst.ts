import Fastify from 'fastify'
import WebSocket from 'ws'
import { describe, expect, test } from 'tstyche'
import '../lib/index.js'
import type { HeartbeatStats } from '../lib/heartbeat/heartbeat-manager.js'
import type { ReliableConnection, Respond, WsMessage } from '../lib/index.js'
import { ReliableClient } from '../lib/client/index.js'

const app = Fastify()

describe('reliable routes', () => {
  test('a route with reliable: true hands the handler a ReliableConnection', () => {
    app.wsRoute('/r', { reliable: true }, (connection) => {
      expect(connection).type.toBe<ReliableConnection<Record<string, unknown>>>()
      expect(connection.send('x')).type.toBe<Promise<void>>()
      expect(connection.send('x', { timeout: 100 })).type.toBe<Promise<void>>()
      expect(connection.request('q', { timeout: 100 })).type.toBe<Promise<WsMessage>>()
      expect(connection.sessionId).type.toBe<string>()
    })
  })

  test('reliable options are typed', () => {
    app.wsRoute('/r2', { reliable: { sessionTimeout: 60_000, principal: (request) => request.headers['x-user'] as string } }, () => {})
    // @ts-expect-error Type 'string' is not assignable to type 'number'
    app.wsRoute('/r3', { reliable: { sessionTimeout: '1m' } }, () => {})
  })

  test('request, suspend and resume events carry typed arguments', () => {
    app.wsRoute('/r4', { reliable: true }, (connection) => {
      connection.on('request', (data, isBinary, respond) => {
        expect(data).type.toBe<WsMessage>()
        expect(isBinary).type.toBe<boolean>()
        expect(respond).type.toBe<Respond>()
      })
      connection.on('suspend', (info) => { expect(info.cause).type.toBeAssignableTo<string>() })
      connection.on('resume', () => {})
    })
  })

  test('the heartbeat decorator exposes typed stats', () => {
    expect(app.wsHeartbeat.stats()).type.toBe<HeartbeatStats>()
  })
})

describe('the client', () => {
  test('takes a WebSocket implementation and returns promises from send and request', () => {
    const client = new ReliableClient('ws://127.0.0.1:1/r', { WebSocket })
    expect(client.send('x')).type.toBe<Promise<void>>()
    expect(client.request('q')).type.toBe<Promise<string | Uint8Array>>()
    // @ts-expect-error Argument of type 'number' is not assignable to parameter of type 'OutgoingData'
    void client.send(42)
  })
})
