import Fastify from 'fastify'
import WebSocket from 'ws'
import * as v from 'valibot'
import { z } from 'zod'
import { describe, expect, test } from 'tstyche'
import type { StandardSchemaV1 as SpecSchema } from '@standard-schema/spec'
import '../lib/index.js'
import type { InvalidMessage, MessageSchemas, ServerMessageTypes, ReliableConnection, StandardSchemaV1, WsConnection, WsMessage } from '../lib/index.js'
import { ReliableClient } from '../lib/client/index.js'

const app = Fastify()

const chat = {
  fromClient: z.object({ text: z.string(), at: z.string().transform((iso) => new Date(iso)) }),
  fromServer: v.object({ text: v.string(), count: v.number() }),
  requests: {
    fromClient: { request: z.object({ sum: z.array(z.number()) }), response: z.object({ total: z.number() }) },
    fromServer: { request: v.object({ ask: v.string() }), response: v.object({ answer: v.string() }) }
  }
} satisfies MessageSchemas

describe('typed messages on the server', () => {
  test('Zod and Valibot schemas are Standard Schemas, and our copy of the interface matches the spec\'s', () => {
    expect(chat.fromClient).type.toBeAssignableTo<StandardSchemaV1>()
    expect(chat.fromServer).type.toBeAssignableTo<StandardSchemaV1>()
    expect<SpecSchema<string, number>>().type.toBeAssignableTo<StandardSchemaV1<string, number>>()
  })

  test('a plain route: message is the schema output, send takes the schema input', () => {
    app.wsRoute('/typed', { messages: chat }, (connection) => {
      connection.on('message', (message, isBinary) => {
        expect(message).type.toBe<{ text: string, at: Date }>()
        expect(isBinary).type.toBe<boolean>()
      })
      expect(connection.send({ text: 'hi', count: 1 })).type.toBe<Promise<void>>()
      expect(connection.send).type.not.toBeCallableWith({ text: 'hi' })
      expect(connection.send).type.not.toBeCallableWith('raw text')
      expect(connection).type.toBe<WsConnection<Record<string, unknown>, ServerMessageTypes<typeof chat>>>()
    })
  })

  test('a reliable route: requests, responses and the invalid event are typed both ways', () => {
    app.wsRoute('/typed-reliable', { reliable: true, messages: chat }, (connection) => {
      expect(connection).type.toBe<ReliableConnection<Record<string, unknown>, ServerMessageTypes<typeof chat>>>()
      connection.on('request', (request, _isBinary, respond) => {
        expect(request).type.toBe<{ sum: number[] }>()
        respond({ total: 3 })
        respond(new Error('no'))
        expect(respond).type.not.toBeCallableWith({ total: 'three' })
      })
      expect(connection.request({ ask: 'why' })).type.toBe<Promise<{ answer: string }>>()
      expect(connection.request).type.not.toBeCallableWith({ ask: 1 })
      connection.on('invalid', (info) => { expect(info).type.toBe<InvalidMessage>() })
    })
  })

  test('a direction without a schema is unknown; a route without messages keeps raw payloads', () => {
    app.wsRoute('/half', { messages: { fromClient: z.number() } }, (connection) => {
      connection.on('message', (message) => { expect(message).type.toBe<number>() })
      expect(connection.send).type.toBeCallableWith({ anything: true })
    })
    app.wsRoute('/raw', (connection) => {
      connection.on('message', (message) => { expect(message).type.toBe<WsMessage>() })
    })
  })

  test('broadcast with messages takes the fromServer input; without, raw payloads', () => {
    expect(app.wsConnections.broadcast({ text: 'all', count: 2 }, { messages: chat })).type.toBe<number>()
    expect(app.wsConnections.broadcast).type.not.toBeCallableWith({ text: 'all' }, { messages: chat })
    expect(app.wsConnections.broadcast('raw')).type.toBe<number>()
  })

  test('a messages entry must be a Standard Schema', () => {
    expect(app.wsRoute).type.not.toBeCallableWith('/bad', { messages: { fromClient: { parse: () => 1 } } }, () => {})
  })
})

describe('typed messages on the client', () => {
  test('new ReliableClient(url, { messages }) is typed from the same schemas, mirrored', () => {
    const client = new ReliableClient('ws://x/typed', {
      WebSocket,
      messages: chat,
      onRequest: (request) => {
        expect(request).type.toBe<{ ask: string }>()
        return { answer: request.ask }
      }
    })
    client.on('message', (message) => { expect(message).type.toBe<{ text: string, count: number }>() })
    client.on('invalid', (info) => { expect(info.path).type.toBe<string>() })
    expect(client.send({ text: 'hi', at: '2026-01-01' })).type.toBe<Promise<void>>()
    expect(client.send).type.not.toBeCallableWith({ text: 'hi', at: new Date() })
    expect(client.request({ sum: [1, 2] })).type.toBe<Promise<{ total: number }>>()
    expect(client.request).type.not.toBeCallableWith('raw')
  })

  test('an onRequest answer must match the response schema', () => {
    expect(ReliableClient).type.not.toBeConstructableWith('ws://x', { messages: chat, onRequest: () => ({ answer: 1 }) })
  })

  test('without messages the client keeps raw payloads', () => {
    const client = new ReliableClient('ws://x/raw', { WebSocket })
    client.on('message', (message) => { expect(message).type.toBe<string | Uint8Array>() })
    expect(client.request('q')).type.toBe<Promise<string | Uint8Array>>()
  })
})
