// lib/connection.ts against its mutants, on real sockets (the ws client): the queue of an async
// handler that listens to other events first, the standard close reasons, the close log lines
// (level, message, fields), a close listener that throws, and app-level pings.
import { randomBytes } from 'node:crypto'
import { connect as netConnect } from 'node:net'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type { FastifyReliableWsOptions, WsConnection, WsRouteOptions } from '../../lib/index.js'
import { buildApp, captureLogs, cleanup, listen, openClient, waitFor, withExpiry } from '../helpers/server.js'
import type { LogLine } from '../helpers/server.js'
import { recordChannels } from '../metrics/recorder.js'
import { zodChat } from '../messages/schemas.js'
import { Opcode, wellFormed } from '../fuzz/raw-websocket.js'

const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 }

async function serve (
  t: { after: (fn: () => unknown) => void },
  handler: (connection: WsConnection) => void | Promise<void>,
  options: FastifyReliableWsOptions = {},
  routeOptions: WsRouteOptions = {}
): Promise<{ app: FastifyInstance, url: string, lines: LogLine[] }> {
  const { stream, lines } = captureLogs()
  const app = await buildApp({ upgradeRate: false, maxConnectionsPerAddress: Infinity, ...options }, (app) => {
    app.wsRoute('/ws', routeOptions, handler)
  }, { logger: { level: 'debug', stream } })
  t.after(() => cleanup(app))
  return { app, url: `${await listen(app)}/ws`, lines }
}

const closeLines = (lines: LogLine[]): LogLine[] => lines.filter((l) => String(l.msg).startsWith('websocket closed'))

describe('the queue of an async handler', () => {
  it('a listener of another event added first does not hand the waiting messages to nobody', async (t) => {
    const recorder = recordChannels()
    t.after(() => recorder.stop())
    let release = (): void => {}
    const released = new Promise<void>((resolve) => { release = resolve })
    const { url } = await serve(t, async (connection) => {
      connection.on('close', () => {})
      await released
      connection.on('message', (data) => { void connection.send(`echo ${String(data)}`) })
    })
    const client = await openClient(url)
    client.socket.send('early')
    // The server read the message (the channel says so) before the handler listens for messages.
    await waitFor(() => recorder.of('messageIn').length === 1, 'the server to read the message', 5000)
    release()
    assert.equal(await client.next(), 'echo early')
    client.socket.send('later')
    assert.equal(await client.next(), 'echo later')
  })
})

describe('close()', () => {
  for (const [args, expected] of [
    [[4000], 'idle timeout'],
    [[1001], 'server shutting down'],
    [[4001], ''],
    [[4000, 'my reason'], 'my reason'],
    [[], 'normal closure']
  ] as Array<[[number?, string?], string]>) {
    it(`close(${args.join(', ')}) sends the reason '${expected}'`, async (t) => {
      const { url } = await serve(t, (connection) => { connection.close(...args) })
      const client = await openClient(url)
      const info = await withExpiry(client.closed, 5000, 'the close')
      assert.deepEqual(info, { code: args[0] ?? 1000, reason: expected })
    })
  }
})

describe('the close log line', () => {
  it('a close by the client with 1000 is logged at debug, with the id, code, reason and cause', async (t) => {
    const ids: string[] = []
    const { url, lines } = await serve(t, (connection) => { ids.push(connection.id) })
    const client = await openClient(url)
    client.socket.close(1000, 'bye')
    await withExpiry(client.closed, 5000, 'the close')
    await waitFor(() => closeLines(lines).length === 1, 'the close line', 5000)
    const [line] = closeLines(lines)
    assert.deepEqual([line.level, line.msg, line.connectionId, line.code, line.reason, line.cause],
      [LEVEL.debug, 'websocket closed', ids[0], 1000, 'bye', 'client'])
  })

  it('a connection dropped without a close frame (1006) is logged at warn', async (t) => {
    const { url, lines } = await serve(t, () => {})
    const client = await openClient(url)
    client.socket.terminate()
    await waitFor(() => closeLines(lines).length === 1, 'the close line', 5000)
    const [line] = closeLines(lines)
    assert.deepEqual([line.level, line.msg, line.code, line.cause], [LEVEL.warn, 'websocket closed abnormally', 1006, 'client'])
  })

  it('a handler that throws: the error at error level, then the 1011 close at warn with cause error', async (t) => {
    const { url, lines } = await serve(t, () => { throw new Error('boom') })
    const client = await openClient(url)
    assert.equal((await withExpiry(client.closed, 5000, 'the close')).code, 1011)
    await waitFor(() => closeLines(lines).length === 1, 'the close line', 5000)
    const failed = lines.filter((l) => l.msg === 'websocket handler failed')
    assert.deepEqual(failed.map((l) => [l.level, (l.err as { message?: string } | undefined)?.message]), [[LEVEL.error, 'boom']])
    const [line] = closeLines(lines)
    assert.deepEqual([line.level, line.msg, line.code, line.cause], [LEVEL.warn, 'websocket closed abnormally', 1011, 'error'])
  })

  it('a silent peer terminated by the heartbeat is logged at warn with cause timeout', async (t) => {
    const { url, lines } = await serve(t, () => {}, { heartbeat: { pingInterval: 50, pongTimeout: 50 } })
    // autoPong off: the client never answers the server's pings.
    const client = await openClient(url, { autoPong: false })
    await withExpiry(client.closed, 10_000, 'the heartbeat to end the connection')
    await waitFor(() => closeLines(lines).length === 1, 'the close line', 5000)
    const [line] = closeLines(lines)
    assert.deepEqual([line.level, line.msg, line.code, line.cause], [LEVEL.warn, 'websocket closed abnormally', 1006, 'timeout'])
  })

  it('a close listener that throws is logged, and the next connection is served', async (t) => {
    const { url, lines } = await serve(t, (connection) => {
      connection.on('close', () => { throw new Error('listener broke') })
      void connection.send('hi')
    })
    const first = await openClient(url)
    assert.equal(await first.next(), 'hi')
    first.socket.close(1000)
    await waitFor(() => lines.some((l) => l.msg === 'websocket close listener failed'), 'the listener error line', 5000)
    const [line] = lines.filter((l) => l.msg === 'websocket close listener failed')
    assert.deepEqual([line.level, (line.err as { message?: string } | undefined)?.message, typeof line.connectionId], [LEVEL.error, 'listener broke', 'string'])
    const second = await openClient(url)
    assert.equal(await second.next(), 'hi')
  })
})

describe('app-level pings (appPing)', () => {
  it('a text ping is answered and kept from the handler; the same bytes in a binary frame are a message', async (t) => {
    const recorder = recordChannels()
    t.after(() => recorder.stop())
    const delivered: Array<[string, boolean]> = []
    const { url } = await serve(t, (connection) => {
      connection.on('message', (data, isBinary) => {
        delivered.push([String(data), isBinary])
        void connection.send(`got ${String(data)}`)
      })
    }, {}, { appPing: true })
    const client = await openClient(url)
    client.socket.send('frws:ping:abc')
    assert.equal(await client.next(), 'frws:pong:abc')
    client.socket.send(Buffer.from('frws:ping:abc'))
    assert.equal(await client.next(), 'got frws:ping:abc')
    assert.deepEqual(delivered, [['frws:ping:abc', true]])
    assert.deepEqual(recorder.of('messageOut').map((m) => m.bytes), [13, 17])
  })

  it('on a route with heartbeat: false a ping is answered too (no heartbeat to tell), and the connection carries on', async (t) => {
    const { url } = await serve(t, (connection) => {
      connection.on('message', (data) => { void connection.send(`got ${String(data)}`) })
    }, {}, { appPing: true, heartbeat: false })
    const client = await openClient(url)
    client.socket.send('frws:ping:nobeat')
    assert.equal(await client.next(), 'frws:pong:nobeat')
    client.socket.send('after')
    assert.equal(await client.next(), 'got after')
  })
})

describe('terminate() and lastRtt', () => {
  it('terminate() by the application: 1006 with cause server, and no heartbeat timeout is published', async (t) => {
    const recorder = recordChannels()
    t.after(() => recorder.stop())
    const closes: Array<{ code: number, cause: string }> = []
    const { url } = await serve(t, (connection) => {
      connection.on('close', (info) => closes.push({ code: info.code, cause: info.cause }))
      connection.on('message', () => { connection.terminate() })
    })
    const client = await openClient(url)
    client.socket.send('go')
    assert.equal((await withExpiry(client.closed, 5000, 'the drop')).code, 1006)
    await waitFor(() => closes.length === 1, 'the close event', 5000)
    assert.deepEqual(closes, [{ code: 1006, cause: 'server' }])
    assert.deepEqual(recorder.of('heartbeatTimeout'), [])
  })

  it('lastRtt is undefined on a route without heartbeat, and reading it does not throw', async (t) => {
    const seen: unknown[] = []
    const { url } = await serve(t, (connection) => {
      connection.on('message', () => {
        seen.push(connection.lastRtt)
        void connection.send('read')
      })
    }, {}, { heartbeat: false })
    const client = await openClient(url)
    client.socket.send('lastRtt?')
    assert.equal(await client.next(), 'read')
    assert.deepEqual(seen, [undefined])
  })
})

describe('log lines of refused traffic', () => {
  it('an outgoing value that fails its schema: warn line with the connection id and the path; rejected, not sent', async (t) => {
    let id = ''
    let rejection: Promise<void> | undefined
    const { stream, lines } = captureLogs()
    const app = await buildApp({ upgradeRate: false }, (app) => {
      app.wsRoute('/typed', { messages: zodChat }, (connection) => {
        id = connection.id
        connection.on('message', () => {
          // @ts-expect-error: `at` must be a number
          rejection = connection.send({ type: 'said', text: 'bad', at: 'noon' })
          void connection.send({ type: 'said', text: 'good', at: 2 })
        })
      })
    }, { logger: { level: 'info', stream } })
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/typed`)
    client.socket.send(JSON.stringify({ type: 'say', text: 'go' }))
    assert.equal(JSON.parse(String(await client.next())).text, 'good')
    await assert.rejects(rejection as Promise<void>, { code: 'FRWS_ERR_MESSAGE_INVALID' })
    const warned = lines.filter((l) => l.msg === 'websocket outgoing message failed its schema; not sent')
    assert.deepEqual(warned.map((l) => [l.level, l.connectionId, l.path]), [[LEVEL.warn, id, 'at']])
  })

  it('a frame ws refuses: info line with the error and the connection id', async (t) => {
    let id = ''
    const { url, lines } = await serve(t, (connection) => { id = connection.id }, { maxPayload: 64 })
    const client = await openClient(url)
    client.socket.send(Buffer.alloc(65))
    assert.equal((await withExpiry(client.closed, 5000, 'the 1009 close')).code, 1009)
    await waitFor(() => closeLines(lines).length === 1, 'the close line', 5000)
    const broke = lines.filter((l) => l.msg === 'websocket peer broke a protocol rule or limit')
    assert.deepEqual(broke.map((l) => [l.level, l.connectionId, (l.err as { code?: string } | undefined)?.code]),
      [[LEVEL.info, id, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']])
    const [line] = closeLines(lines)
    assert.deepEqual([line.level, line.code, line.cause], [LEVEL.warn, 1009, 'error'])
  })
})

describe('a connection without heartbeat, and send() after the close', () => {
  it('takes the peer\'s pings and unsolicited pongs on a route with heartbeat: false, and carries on', async (t) => {
    const { url } = await serve(t, (connection) => {
      connection.on('message', (data) => { void connection.send(`echo ${String(data)}`) })
    }, {}, { heartbeat: false })
    const client = await openClient(url)
    const pongs: number[] = []
    client.socket.on('pong', () => pongs.push(1))
    client.socket.ping()
    client.socket.pong()
    client.socket.send('after')
    assert.equal(await client.next(), 'echo after')
    assert.deepEqual(pongs, [1], 'ws answered the ping')
    assert.equal(client.socket.readyState, 1)
  })

  it('on a typed route, send() of an invalid value after the close rejects as closed, and logs no schema failure', async (t) => {
    const { stream, lines } = captureLogs()
    let late: Promise<void> | undefined
    const app = await buildApp({ upgradeRate: false }, (app) => {
      app.wsRoute('/typed', { messages: zodChat }, (connection) => {
        connection.on('close', () => {
          // @ts-expect-error: `at` must be a number
          late = connection.send({ type: 'said', text: 'late', at: 'noon' })
        })
      })
    }, { logger: { level: 'info', stream } })
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/typed`)
    client.socket.close(1000)
    await waitFor(() => late !== undefined, 'the close event', 5000)
    await assert.rejects(late as Promise<void>, { code: 'FRWS_ERR_CONNECTION_CLOSED' })
    assert.deepEqual(lines.filter((l) => l.msg === 'websocket outgoing message failed its schema; not sent'), [])
  })
})

describe('a listener that fails while the peer is closing', () => {
  it('is logged, and the close stays the peer\'s (cause client, its code), not turned into a 1011 of ours', async (t) => {
    const closes: Array<{ code: number, cause: string }> = []
    const { url, lines } = await serve(t, (connection) => {
      connection.on('close', (info) => closes.push({ code: info.code, cause: info.cause }))
      connection.on('message', async () => {
        // Fail once the peer's close frame has been read and answered (the socket is closing).
        await waitFor(() => connection.socket.readyState === 2, 'the peer close', 5000)
        throw new Error('late failure')
      })
    })
    // A peer that sends a message and its close frame, then keeps its TCP side open: the server
    // socket stays closing (ws waits up to 30 s for the TCP close).
    const { hostname, port, pathname } = new URL(url)
    const raw = netConnect({ host: hostname, port: Number(port), allowHalfOpen: true })
    t.after(() => raw.destroy())
    raw.on('error', () => {})
    let head = ''
    const upgraded = new Promise<void>((resolve) => {
      raw.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1')
        if (head.includes('\r\n\r\n')) resolve()
      })
    })
    raw.write([
      `GET ${pathname} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: Upgrade', 'Upgrade: websocket',
      'Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, '', ''
    ].join('\r\n'))
    await withExpiry(upgraded, 5000, 'the upgrade')
    assert.match(head, /^HTTP\/1\.1 101/)
    raw.write(Buffer.concat([wellFormed(Opcode.TEXT, Buffer.from('go')), wellFormed(Opcode.CLOSE, Buffer.from([0x03, 0xe8]))]))
    await waitFor(() => lines.some((l) => l.msg === 'websocket handler failed'), 'the failure to be logged', 10_000)
    const failed = lines.filter((l) => l.msg === 'websocket handler failed')
    assert.deepEqual(failed.map((l) => (l.err as { message?: string } | undefined)?.message), ['late failure'], 'it failed while closing')
    assert.deepEqual(closes, [], 'still closing when it failed')
    raw.destroy()
    await waitFor(() => closes.length === 1, 'the close event', 5000)
    assert.deepEqual(closes, [{ code: 1000, cause: 'client' }])
  })
})

describe('rooms of one connection', () => {
  it('leave() of a room never joined changes nothing and does not throw; join then leave empties the room', async (t) => {
    let left: unknown = 'not yet'
    const { app, url } = await serve(t, (connection) => {
      connection.on('message', (data) => {
        const text = String(data)
        if (text === 'leave-unjoined') {
          try {
            connection.leave('lobby')
            left = [...connection.rooms]
          } catch (error) {
            left = error
          }
        } else if (text === 'join') {
          connection.join('lobby')
        } else if (text === 'leave') {
          connection.leave('lobby')
        }
        void connection.send(`done ${text}`)
      })
    })
    const client = await openClient(url)
    client.socket.send('leave-unjoined')
    assert.equal(await client.next(), 'done leave-unjoined')
    assert.deepEqual(left, [])
    client.socket.send('join')
    assert.equal(await client.next(), 'done join')
    assert.equal(app.wsConnections.broadcast('to the lobby', { room: 'lobby' }), 1)
    assert.equal(await client.next(), 'to the lobby')
    client.socket.send('leave')
    assert.equal(await client.next(), 'done leave')
    assert.equal(app.wsConnections.broadcast('nobody', { room: 'lobby' }), 0)
  })
})
