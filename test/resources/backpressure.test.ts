import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import type { FastifyReliableWsOptions, WsConnection, CloseInfo } from '../../lib/index.js'
import { CUT_GRACE_PERIOD } from '../../lib/limits/connection-guard.js'
import { startReliable } from '../helpers/protocol-peer.js'
import { buildApp, captureLogs, cleanup, listen, openClient, waitFor, withExpiry } from '../helpers/server.js'
import type { LogLine } from '../helpers/server.js'

const CHUNK = Buffer.alloc(64 * 1024, 1)
const CAP = 256 * 1024

/** The client's TCP socket under ws: pausing it makes the client a reader that never reads. */
function tcpOf (socket: unknown): Socket {
  return (socket as { _socket: Socket })._socket
}

interface Recorded {
  connections: WsConnection[]
  closes: CloseInfo[]
  /** Outcome of each send of the flood: 'ok', or the error code it rejected with. */
  outcomes: string[]
  /** The server socket's bufferedAmount right after the flood loop. */
  bufferedAfterFlood: number[]
  lines: LogLine[]
}

async function floodServer (t: { after: (fn: () => Promise<void>) => void }, options: FastifyReliableWsOptions) {
  const { stream, lines } = captureLogs()
  const recorded: Recorded = { connections: [], closes: [], outcomes: [], bufferedAfterFlood: [], lines }
  const app = await buildApp(options, (app) => {
    app.wsRoute('/ws', (connection) => {
      recorded.connections.push(connection)
      connection.on('close', (info) => recorded.closes.push(info))
      connection.on('message', async (data) => {
        const command = data.toString()
        if (command === 'flood') {
          // Fire and forget: 200 x 64 KiB in one turn, 12.5 MiB if nothing stopped it.
          for (let i = 0; i < 200; i++) {
            connection.send(CHUNK).then(() => recorded.outcomes.push('ok'), (error: { code: string }) => recorded.outcomes.push(error.code))
          }
          recorded.bufferedAfterFlood.push(connection.socket.bufferedAmount)
        } else if (command === 'big') {
          try {
            await connection.send(Buffer.alloc(8 * 1024 * 1024))
            recorded.outcomes.push('ok')
          } catch (error) {
            recorded.outcomes.push((error as { code: string }).code)
          }
        } else if (command.startsWith('await-flood:')) {
          try {
            const count = Number(command.slice('await-flood:'.length))
            for (let i = 0; i < count; i++) { await connection.send(CHUNK); recorded.outcomes.push('ok') }
          } catch (error) {
            recorded.outcomes.push((error as { code: string }).code)
          }
        } else {
          await connection.send(data)
        }
      })
    })
  }, { logger: { level: 'warn', stream } })
  t.after(() => cleanup(app))
  return { app, url: await listen(app), recorded }
}

const cutLines = (lines: LogLine[]): LogLine[] => lines.filter((line) => line.msg === 'websocket slow consumer cut')

describe('backpressure on plain routes', () => {
  test('a small send resolves with the one shared resolved promise; a large one waits for the drain and resolves', async (t) => {
    let small: Array<Promise<void>> = []
    let large: Promise<void> | undefined
    const app = await buildApp({}, (app) => {
      app.wsRoute('/ws', (connection) => {
        connection.on('message', () => {
          small = [connection.send('a'), connection.send('b')]
          large = connection.send(Buffer.alloc(256 * 1024))
        })
      })
    })
    t.after(() => cleanup(app))
    const client = await openClient(`${await listen(app)}/ws`)
    client.socket.send('go')
    await client.next()
    await client.next()
    assert.equal(small[0], small[1], 'no promise is allocated per small send')
    assert.notEqual(large, small[0], 'a send that leaves the buffer above 16 KiB gets a drain promise')
    await withExpiry(large!, 2000, 'the drain')
    assert.equal(((await client.next()) as Buffer).length, 256 * 1024)
  })

  test('a fire-and-forget flood to a client that does not read is cut at the cap with 4420 and a warn line', async (t) => {
    const { app, url, recorded } = await floodServer(t, { maxBufferedBytes: CAP })
    const slow = await openClient(`${url}/ws`)
    const bystander = await openClient(`${url}/ws`)
    tcpOf(slow.socket).pause()
    slow.socket.send('flood')
    await waitFor(() => recorded.outcomes.length === 200, 'every send of the flood to settle', 5000)
    assert.ok(recorded.bufferedAfterFlood[0] <= CAP + CHUNK.length, `buffered ${recorded.bufferedAfterFlood[0]} bytes, cap ${CAP} plus one chunk`)
    assert.equal(recorded.outcomes.filter((code) => code === 'FRWS_ERR_SLOW_CONSUMER').length, 1, 'the send that crossed the cap rejects as a slow consumer')
    assert.ok(recorded.outcomes.includes('FRWS_ERR_CONNECTION_CLOSED'), 'later sends are refused, not buffered')
    const lines = cutLines(recorded.lines)
    assert.equal(lines.length, 1)
    assert.equal(lines[0].maxBufferedBytes, CAP)
    assert.equal(lines[0].why, 'buffer full')

    bystander.socket.send('still here')
    assert.equal(await bystander.next(), 'still here')
    const fresh = await openClient(`${url}/ws`)
    fresh.socket.send('new connections too')
    assert.equal(await fresh.next(), 'new connections too')

    // The slow client never reads its close frame: the server terminates the socket after the grace period.
    const started = Date.now()
    await waitFor(() => recorded.closes.length === 1, 'the server-side close', CUT_GRACE_PERIOD + 5000)
    assert.deepEqual({ code: recorded.closes[0].code, cause: recorded.closes[0].cause }, { code: 4420, cause: 'error' })
    assert.ok(Date.now() - started < CUT_GRACE_PERIOD + 4000, 'terminated promptly, not after ws\'s 30 s close timeout')
    assert.equal(app.wsConnections.size, 2)
  })

  test('a client that catches up within the grace period reads the 4420 close frame', async (t) => {
    const { url, recorded } = await floodServer(t, { maxBufferedBytes: CAP })
    const slow = await openClient(`${url}/ws`)
    tcpOf(slow.socket).pause()
    slow.socket.send('flood')
    await waitFor(() => recorded.outcomes.includes('FRWS_ERR_SLOW_CONSUMER'), 'the cut')
    tcpOf(slow.socket).resume()
    const close = await withExpiry(slow.closed, 3000, 'the close')
    assert.equal(close.code, 4420)
    assert.equal(close.reason, 'slow consumer')
  })

  test('an app that awaits every send is held back, then cut with 4420 after drainTimeout; its await rejects', async (t) => {
    const { url, recorded } = await floodServer(t, { maxBufferedBytes: CAP, drainTimeout: 300 })
    const slow = await openClient(`${url}/ws`)
    tcpOf(slow.socket).pause()
    slow.socket.send('await-flood:1000')
    await waitFor(() => recorded.outcomes.at(-1)?.startsWith('FRWS') === true, 'the awaited send to reject', 5000)
    assert.equal(recorded.outcomes.at(-1), 'FRWS_ERR_SLOW_CONSUMER')
    const sent = recorded.outcomes.length - 1
    assert.ok(sent < 1000, `the awaiting app stopped after ${sent} sends`)
    assert.equal(cutLines(recorded.lines)[0].why, 'drain timeout')
    await waitFor(() => recorded.closes.length === 1, 'the close', CUT_GRACE_PERIOD + 5000)
    assert.equal(recorded.closes[0].code, 4420)
  })

  test('a client that reads slowly but steadily is never cut', async (t) => {
    const { url, recorded } = await floodServer(t, { maxBufferedBytes: CAP, drainTimeout: 5000 })
    const client = await openClient(`${url}/ws`)
    client.socket.send('await-flood:300')
    await waitFor(() => recorded.outcomes.length === 300, 'the 300 awaited sends', 20_000)
    assert.ok(recorded.outcomes.every((outcome) => outcome === 'ok'))
    await waitFor(() => client.messages.length === 300, 'every chunk to arrive', 20_000)
    assert.equal(client.socket.readyState, 1)
    assert.deepEqual(cutLines(recorded.lines), [])
  })

  test('a drain slower than drainTimeout is not cut while the peer keeps reading', async (t) => {
    // 1 s, not less: the reader below shares this process, and a loaded machine can stall it for
    // hundreds of ms, which is a real stall for the waiter.
    const drainTimeout = 1000
    const { url, recorded } = await floodServer(t, { maxBufferedBytes: CAP, drainTimeout })
    const client = await openClient(`${url}/ws`)
    const tcp = tcpOf(client.socket)
    tcp.pause()
    // Read one chunk (at most 64 KiB) every 20 ms: progress all the time, yet the 8 MiB drain takes over 2 s.
    const reader = setInterval(() => { tcp.once('data', () => tcp.pause()); tcp.resume() }, 20)
    t.after(() => clearInterval(reader))
    const started = Date.now()
    client.socket.send('big')
    await waitFor(() => recorded.outcomes.length === 1, 'the awaited 8 MiB send', 60_000)
    clearInterval(reader)
    tcp.resume()
    assert.equal(recorded.outcomes[0], 'ok')
    assert.ok(Date.now() - started > drainTimeout, 'the drain took longer than drainTimeout')
    assert.deepEqual(cutLines(recorded.lines), [])
    assert.equal(((await client.next(10_000)) as Buffer).length, 8 * 1024 * 1024)
  })

  test('maxBufferedBytes and drainTimeout are checked at register and at wsRoute()', async (t) => {
    for (const [options, name] of [[{ maxBufferedBytes: 0 }, 'maxBufferedBytes'], [{ drainTimeout: -1 }, 'drainTimeout'], [{ drainTimeout: 'soon' }, 'drainTimeout']] as const) {
      await assert.rejects(buildApp(options as FastifyReliableWsOptions), new RegExp(`"${name}"`))
    }
    const app = await buildApp({})
    t.after(() => app.close())
    assert.throws(() => app.wsRoute('/x', { maxBufferedBytes: 1.5 }, () => {}), /"maxBufferedBytes"/)
    assert.throws(
      () => app.wsRoute('/r', { reliable: { maxUnackedBytes: 2 * CAP }, maxBufferedBytes: CAP }, () => {}),
      /"maxBufferedBytes": expected an integer >= reliable\.maxUnackedBytes \(524288\) on a reliable route/
    )
    app.wsRoute('/r2', { reliable: { maxUnackedBytes: CAP }, maxBufferedBytes: CAP }, () => {})
  })
})

describe('backpressure on reliable routes', () => {
  test('a client that acks without reading is cut with 4420 and its session is suspended, not ended', async (t) => {
    const server = await startReliable({ reliable: { maxUnackedBytes: CAP }, maxBufferedBytes: CAP }, {}, (connection) => {
      connection.on('message', () => {
        const timer = setInterval(() => {
          if (!connection.isAttached) { clearInterval(timer); return }
          // A well-behaved sender: at most 16 messages unacknowledged.
          while (connection.unackedCount < 16) void connection.send('x'.repeat(8 * 1024))
        }, 1)
      })
    })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    tcpOf(peer.socket).pause()
    peer.sendData(1, 'go')
    await waitFor(() => server.connections.length === 1, 'the connection')
    const connection = server.connections[0]
    // Ack everything the server has sent without reading any of it: the unacked log stays empty.
    const acker = setInterval(() => {
      const { lastSeq } = connection.outboundState
      if (lastSeq > 0 && peer.socket.readyState === 1) peer.sendAck(lastSeq)
    }, 2)
    t.after(() => clearInterval(acker))
    await waitFor(() => server.events.some((event) => event.startsWith('suspend:')), 'the suspend', CUT_GRACE_PERIOD + 10_000)
    clearInterval(acker)
    assert.deepEqual(server.events, ['suspend:4420'])
    assert.ok(connection.unackedCount < 4096, 'the session stays within its own bounds')
  })
})
