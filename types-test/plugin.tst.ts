import Fastify from 'fastify'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { describe, expect, test } from 'tstyche'
import fastifyReliableWs, {
  ConnectionRegistry, WsConnection, fastifyReliableWs as namedExport
} from '../lib/index.js'
import type { CloseCause, CloseInfo, FastifyReliableWsOptions, WsMessage } from '../lib/index.js'

const app = Fastify()

describe('registering the plugin', () => {
  test('the default and the named export are the same plugin', () => {
    expect(namedExport).type.toBe(fastifyReliableWs)
  })

  test('valid options compile', () => {
    expect(app.register(fastifyReliableWs)).type.not.toRaiseError()
    expect(app.register(fastifyReliableWs, {
      origins: ['https://app.example.com', /^https:\/\/[a-z]+\.example\.com$/],
      allowMissingOrigin: false,
      maxPayload: 64 * 1024,
      maxConnections: Infinity,
      closeTimeout: 2000,
      handshakeTimeout: 5000,
      heartbeat: { pingInterval: 20_000, pongTimeout: 5000 },
      idleTimeout: 0,
      infoRoute: false
    })).type.not.toRaiseError()
    expect(app.register(fastifyReliableWs, { origins: '*', heartbeat: false })).type.not.toRaiseError()
    expect(app.register(fastifyReliableWs, {
      sessionBudget: { maxTotalBytes: 64 * 1024 * 1024, maxSessionBytes: 1024 * 1024, maxSuspended: 1000, maxSuspendedPerAddress: 10, unackedSessionTimeout: 5000 }
    })).type.not.toRaiseError()
    // @ts-expect-error Type 'string' is not assignable to type 'number'
    app.register(fastifyReliableWs, { sessionBudget: { maxTotalBytes: '256mb' } })
    expect(app.register(fastifyReliableWs, {
      origins: async (origin: string, request: FastifyRequest) => origin.endsWith(request.host)
    })).type.not.toRaiseError()
  })

  test('options of the wrong type, or misspelled, do not compile', () => {
    // @ts-expect-error Type 'string' is not assignable to type 'number'
    app.register(fastifyReliableWs, { maxPayload: '1mb' })
    // @ts-expect-error Type 'string' is not assignable to type 'number'
    app.register(fastifyReliableWs, { closeTimeout: '5s' })
    // @ts-expect-error Type 'string' is not assignable to type 'boolean | undefined'
    app.register(fastifyReliableWs, { allowMissingOrigin: 'yes' })
    // @ts-expect-error Type 'number' is not assignable to type 'OriginOption | undefined'
    app.register(fastifyReliableWs, { origins: 42 })
    // @ts-expect-error Type 'true' is not assignable
    app.register(fastifyReliableWs, { heartbeat: true })
    // @ts-expect-error Type 'string' is not assignable to type 'number'
    app.register(fastifyReliableWs, { heartbeat: { pingInterval: '25s' } })
    // @ts-expect-error 'maxPayLoad' does not exist
    app.register(fastifyReliableWs, { maxPayLoad: 5 })
  })

  test('the options type names every option', () => {
    expect<FastifyReliableWsOptions>().type.toHaveProperty('origins')
    expect<FastifyReliableWsOptions>().type.toHaveProperty('closeTimeout')
    expect<FastifyReliableWsOptions>().type.toHaveProperty('heartbeat')
  })
})

describe('fastify.wsRoute', () => {
  test('the handler gets a WsConnection and the FastifyRequest', () => {
    app.wsRoute('/ws', (connection, request) => {
      expect(connection).type.toBe<WsConnection>()
      expect(request).type.toBe<FastifyRequest>()
    })
  })

  test('the handler may be async and the route takes Fastify hooks and overrides', () => {
    expect(app.wsRoute('/ws', {
      onRequest: async (_request, reply) => { await reply.code(401).send() },
      origins: 'https://app.example.com',
      heartbeat: false
    }, async () => {})).type.toBe<FastifyInstance>()
  })

  test('connection data is typed by the Data parameter', () => {
    app.wsRoute<{ userId: string }>('/ws', (connection) => {
      expect(connection.data.userId).type.toBe<string>()
    })
  })

  test('a route option of the wrong type does not compile', () => {
    // @ts-expect-error Type 'string' is not assignable to type 'number'
    app.wsRoute('/ws', { handshakeTimeout: 'soon' }, () => {})
  })
})

describe('a connection', () => {
  const connection = {} as WsConnection

  test('send() takes strings and bytes and returns Promise<void>', () => {
    expect(connection.send('text')).type.toBe<Promise<void>>()
    expect(connection.send(Buffer.from('bytes'))).type.toBe<Promise<void>>()
    expect(connection.send(new Uint8Array(4))).type.toBe<Promise<void>>()
    // @ts-expect-error 'not' does not exist
    connection.send({ not: 'data' })
  })

  test('a message listener gets string | Buffer and whether it was binary', () => {
    connection.on('message', (data, isBinary) => {
      expect(data).type.toBe<string | Buffer>()
      expect(data).type.toBe<WsMessage>()
      expect(isBinary).type.toBe<boolean>()
    })
  })

  test('a close listener gets CloseInfo with a typed cause', () => {
    connection.on('close', (info) => {
      expect(info).type.toBe<CloseInfo>()
      expect(info.code).type.toBe<number>()
      expect(info.cause).type.toBe<CloseCause>()
    })
  })

  test('an unknown event does not compile', () => {
    // @ts-expect-error is not assignable to parameter of type 'never'
    connection.on('mesage', () => {})
  })

  test('the connection exposes its identity and rooms', () => {
    expect(connection.id).type.toBe<string>()
    expect(connection.remoteAddress).type.toBe<string>()
    expect(connection.openedAt).type.toBe<number>()
    expect(connection.rooms).type.toBe<ReadonlySet<string>>()
    expect(connection.join('room')).type.toBe<void>()
    expect(connection.close(1000, 'bye')).type.toBe<void>()
    expect(connection.terminate()).type.toBe<void>()
  })
})

describe('fastify.wsConnections', () => {
  test('is the ConnectionRegistry', () => {
    expect(app.wsConnections).type.toBe<ConnectionRegistry>()
  })

  test('broadcast() returns the number of connections reached', () => {
    expect(app.wsConnections.broadcast('hello')).type.toBe<number>()
    expect(app.wsConnections.broadcast(Buffer.from('hi'), { room: 'lobby' })).type.toBe<number>()
    // @ts-expect-error Type 'number' is not assignable to type 'string'
    app.wsConnections.broadcast('hello', { room: 1 })
  })

  test('lookup, size and close by id are typed', () => {
    expect(app.wsConnections.get('id')).type.toBe<WsConnection<object> | undefined>()
    expect(app.wsConnections.size).type.toBe<number>()
    expect(app.wsConnections.close('id', 1000, 'bye')).type.toBe<boolean>()
  })
})

describe('decorators that come with the plugin', () => {
  test('injectWS (from @fastify/websocket) is typed once the plugin is imported', () => {
    expect(app.injectWS('/ws')).type.not.toBe<any>() // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(app.injectWS('/ws')).type.toBeAssignableTo<Promise<{ terminate: () => void, send: (data: string) => void }>>()
  })

  test('wsHeartbeat exposes stats()', () => {
    expect(app.wsHeartbeat.stats().pingsSent).type.toBe<number>()
  })

  test('a misspelt route option does not compile', () => {
    // @ts-expect-error Object literal may only specify known properties
    app.wsRoute('/x', { reliabel: true }, () => {})
  })
})
