// lib/transport/ws-listeners.ts against its mutants, on real sockets (the ws client, and a
// hand-written client over node:net for frames ws would never send):
// - the close code the server reports when ws refused a frame and the peer then dropped without
//   answering the close frame: the code ws sent (1007, 1009, 1008, 1002), not 1006;
// - a binary message whatever `binaryType` the application gave the socket ('fragments',
//   'arraybuffer'): one Buffer for the handler, and its full size on the messageIn channel;
// - unsolicited pongs count against the rate limit;
// - ws's own error listener of @fastify/websocket (log at error, terminate) is replaced;
// - the frames and errors of a socket a reliable session has left (resumed on another socket)
//   reach the session no more;
// - no heartbeat ping goes out after the close frame (lib/transport/ws-transport.ts, sendPing).
import { afterEach, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect as netConnect } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { CloseInfo, FastifyReliableWsOptions, WsConnection } from '../../lib/index.js'
import { buildApp, captureLogs, cleanup, connect, listen, openClient, waitFor, withExpiry } from '../helpers/server.js'
import { resumeOf, startReliable } from '../helpers/protocol-peer.js'
import { Opcode, encodeClientFrame, openRawClient, wellFormed } from '../fuzz/raw-websocket.js'
import { recordChannels } from '../metrics/recorder.js'
import type { ChannelRecorder } from '../metrics/recorder.js'

interface Served {
  url: string
  /** The next connection's close info. */
  closes: Array<Promise<CloseInfo>>
  received: Array<{ data: unknown, isBinary: boolean }>
}

async function serve (
  t: { after: (fn: () => unknown) => void },
  options: FastifyReliableWsOptions,
  onConnection: (connection: WsConnection) => void = () => {}
): Promise<Served> {
  const served: Served = { url: '', closes: [], received: [] }
  const app: FastifyInstance = await buildApp({ ...options, upgradeRate: false, maxConnectionsPerAddress: Infinity }, (app) => {
    app.wsRoute('/ws', (connection) => {
      served.closes.push(new Promise((resolve) => connection.once('close', resolve)))
      connection.on('message', (data, isBinary) => {
        served.received.push({ data, isBinary })
        void connection.send(`got ${served.received.length}`)
      })
      onConnection(connection)
    })
  })
  served.url = `${await listen(app)}/ws`
  t.after(() => cleanup(app))
  return served
}

const masked = (opcode: number, fin: boolean, payload: Uint8Array): Buffer =>
  encodeClientFrame({ fin, rsv: 0, opcode, masked: true, lengthField: 'shortest', lengthLie: 0, payload })

/** Frames that make ws refuse the message, with the close code ws sends for each. */
const REFUSED: Array<{ what: string, frames: () => Buffer, code: number, maxPayload?: number }> = [
  { what: 'invalid UTF-8 in a text message', frames: () => wellFormed(Opcode.TEXT, Buffer.from([0x61, 0xff])), code: 1007 },
  { what: 'a message over maxPayload (64 bytes)', frames: () => wellFormed(Opcode.BINARY, Buffer.alloc(65)), code: 1009, maxPayload: 64 },
  {
    what: 'a 64-bit length above 2^53 - 1',
    frames: () => encodeClientFrame({ fin: true, rsv: 0, opcode: Opcode.BINARY, masked: true, lengthField: 'beyond 2^53', lengthLie: 0, payload: Buffer.alloc(0) }),
    code: 1009
  },
  {
    // ws's server allows 16,384 fragments per message (16 KiB here, far below the default maxPayload).
    what: 'a message in 16,385 fragments',
    frames: () => Buffer.concat([
      masked(Opcode.BINARY, false, Buffer.from([1])),
      ...Array.from({ length: 16_384 }, () => masked(Opcode.CONTINUATION, false, Buffer.from([1])))
    ]),
    code: 1008
  },
  { what: 'an unmasked frame', frames: () => encodeClientFrame({ fin: true, rsv: 0, opcode: Opcode.TEXT, masked: false, lengthField: 'shortest', lengthLie: 0, payload: Buffer.from('hi') }), code: 1002 }
]

describe('ws listeners', () => {
  for (const { what, frames, code, maxPayload } of REFUSED) {
    it(`reports ${code} for ${what} when the peer leaves without answering the close frame`, async (t) => {
      const served = await serve(t, maxPayload === undefined ? {} : { maxPayload })
      const raw = await openRawClient(served.url)
      // Send the frame and our FIN together: the server's close frame is never answered.
      raw.socket.end(frames())
      await withExpiry(raw.ended, 5000, 'the TCP close')
      const info = await withExpiry(served.closes[0], 5000, 'the server close event')
      assert.deepEqual([info.code, info.cause], [code, 'error'])
      assert.deepEqual(served.received, [], 'nothing reached the handler')
    })
  }

  describe('binary messages whatever binaryType the application set', () => {
    let recorder: ChannelRecorder
    beforeEach(() => { recorder = recordChannels() })
    afterEach(() => recorder.stop())

    it("binaryType 'fragments': a message sent in three fragments arrives as one Buffer of its full size", async (t) => {
      const served = await serve(t, {}, (connection) => { connection.socket.binaryType = 'fragments' })
      const client = await openClient(served.url)
      client.socket.send(Buffer.from('ab'), { fin: false })
      client.socket.send(Buffer.from('cde'), { fin: false })
      client.socket.send(Buffer.from('fghi'), { fin: true })
      assert.equal(await client.next(), 'got 1')
      assert.equal(served.received.length, 1)
      const [{ data, isBinary }] = served.received
      assert.equal(isBinary, true)
      assert.ok(Buffer.isBuffer(data), 'a Buffer, not an array of chunks')
      assert.equal((data as Buffer).toString(), 'abcdefghi')
      assert.deepEqual(recorder.of('messageIn').map((m) => m.bytes), [9])
    })

    it("binaryType 'arraybuffer': the message arrives as a Buffer, and text stays a string", async (t) => {
      const served = await serve(t, {}, (connection) => { connection.socket.binaryType = 'arraybuffer' })
      const client = await openClient(served.url)
      client.socket.send(Buffer.from([1, 2, 3, 4, 5]))
      assert.equal(await client.next(), 'got 1')
      client.socket.send('héllo')
      assert.equal(await client.next(), 'got 2')
      const [binary, text] = served.received
      assert.ok(Buffer.isBuffer(binary.data), 'a Buffer, not an ArrayBuffer')
      assert.deepEqual([...(binary.data as Buffer)], [1, 2, 3, 4, 5])
      assert.deepEqual([binary.isBinary, text.data, text.isBinary], [true, 'héllo', false])
      assert.deepEqual(recorder.of('messageIn').map((m) => m.bytes), [5, 6])
    })
  })

  it('unsolicited pongs count against the rate limit: a pong flood closes with 4429', async (t) => {
    const served = await serve(t, { rateLimit: { messagesPerSecond: 20, burstSeconds: 1 } })
    const client = await connect(served.url)
    const closed = new Promise<number>((resolve) => client.once('close', (code: number) => resolve(code)))
    for (let i = 0; i < 100; i++) client.pong()
    assert.equal(await withExpiry(closed, 5000, 'the 4429 close'), 4429)
    const info = await withExpiry(served.closes[0], 5000, 'the server close event')
    assert.equal(info.code, 4429)
  })
})

describe('ws transport', () => {
  it('sends no heartbeat ping on a socket it is closing, while the heartbeat keeps pinging the others', async (t) => {
    const app = await buildApp({ upgradeRate: false, maxConnectionsPerAddress: Infinity, heartbeat: { pingInterval: 50, pongTimeout: 10_000 } }, (app) => {
      app.wsRoute('/ws', (connection, request) => {
        if (request.url.endsWith('?close')) connection.close(4000, 'bye')
      })
    })
    t.after(() => cleanup(app))
    const base = `${await listen(app)}/ws`
    // A witness that answers every ping: its pings show the heartbeat visiting connections.
    const witness = await connect(base)
    let witnessPings = 0
    witness.on('ping', () => { witnessPings++ })

    // A peer that never answers the close frame, so the server socket stays closing (ws waits 30 s).
    const { hostname, port } = new URL(base)
    const raw = netConnect({ host: hostname, port: Number(port) })
    t.after(() => raw.destroy())
    raw.on('error', () => {})
    let received = Buffer.alloc(0)
    raw.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]) })
    raw.write([
      'GET /ws?close HTTP/1.1', `Host: ${hostname}:${port}`, 'Connection: Upgrade', 'Upgrade: websocket',
      'Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, '', ''
    ].join('\r\n'))
    const framesOf = (): Buffer => {
      const end = received.indexOf('\r\n\r\n')
      return end === -1 ? Buffer.alloc(0) : received.subarray(end + 4)
    }
    await waitFor(() => framesOf().length >= 7, 'the close frame', 5000)
    // The closing socket was due for a ping 50 ms after it opened; two more pings of the witness,
    // each sent at least 50 ms after the witness answered one sent after that, come later.
    const pingsBefore = witnessPings
    await waitFor(() => witnessPings >= pingsBefore + 2, 'two more pings of the witness', 10_000)
    assert.deepEqual([...framesOf()], [0x88, 0x05, 0x0f, 0xa0, ...Buffer.from('bye')], 'the close frame and nothing after it')
  })
})

describe('the listeners replace those of @fastify/websocket and follow the session', () => {
  it('a message over maxPayload closes with 1009 and logs at info, not at error (no terminate by @fastify/websocket)', async (t) => {
    const { stream, lines } = captureLogs()
    const app = await buildApp({ maxPayload: 64, upgradeRate: false }, (app) => {
      app.wsRoute('/ws', () => {})
    }, { logger: { level: 'info', stream } })
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/ws`)
    client.socket.send(Buffer.alloc(65))
    assert.equal((await withExpiry(client.closed, 5000, 'the 1009 close')).code, 1009)
    await waitFor(() => lines.some((l) => l.msg === 'websocket closed abnormally'), 'the close line', 5000)
    assert.deepEqual(lines.filter((l) => l.level >= 50).map((l) => l.msg), [], 'nothing at error level')
    assert.equal(lines.filter((l) => l.msg === 'websocket peer broke a protocol rule or limit' && l.level === 30).length, 1)
  })

  it('a socket the session left (resumed elsewhere) delivers neither its messages nor its errors to the session', async (t) => {
    const server = await startReliable({ reliable: true }, { upgradeRate: false, maxConnectionsPerAddress: Infinity })
    t.after(() => server.stop())
    const first = await server.peer()
    const welcome = await first.handshake()
    // The first socket reads nothing more: it does not see the 4409 and keeps sending.
    first.socket.pause()
    const second = await server.peer()
    await second.handshake(resumeOf(welcome, 0))
    first.sendData(1, 'ghost')
    first.sendRaw(Buffer.from([0x61, 0xff]), false) // invalid UTF-8 in a text frame: ws errors (1007)
    first.socket.resume()
    // The server read the first socket to its end (its close) before we go on.
    await withExpiry(first.closed(5000), 6000, 'the first socket to close')
    second.sendData(1, 'real')
    second.sendData(2, 'end')
    await waitFor(() => server.messages.length >= 2, 'two messages on the second socket', 5000)
    assert.deepEqual(server.messages.map((m) => String(m.data)), ['real', 'end'])
    assert.equal(second.socket.readyState, 1, 'the second socket is still open')
    assert.deepEqual(server.closes, [])
  })
})
