// Attacks on the outbound buffer, against a server in a child process whose memory is measured
// after gc. Each flood would send 128 MiB if nothing stopped it (see the fixture).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import WebSocket from 'ws'
import { startChildServer } from '../helpers/child-server.js'
import type { ChildMemory, ChildServer } from '../helpers/child-server.js'
import { openPeer } from '../helpers/protocol-peer.js'
import { delay, withExpiry } from '../helpers/server.js'

const FIXTURE = new URL('../helpers/fixtures/backpressure-flood.ts', import.meta.url)
const MiB = 1024 * 1024
const CAP = 1 * MiB
/**
 * What the server may grow by beyond the buffers the limits allow: the legitimate clients'
 * connections, ws and Fastify bookkeeping, gc noise. Without the cap the floods grow it by ~120 MiB.
 */
const MARGIN = 8 * MiB

interface Stats {
  closes: Record<string, number>
  suspends: Record<string, number>
  sendErrors: Record<string, number>
  maxBuffered: number
  reliableLastSeq: number
}

const held = (memory: ChildMemory): number => memory.heapUsed + memory.external

function tcpOf (socket: WebSocket): Socket {
  return (socket as unknown as { _socket: Socket })._socket
}

function connectTo (url: string, protocols: string[] = []): Promise<WebSocket> {
  return withExpiry(new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols)
    socket.once('open', () => resolve(socket))
    socket.once('error', reject)
  }), 5000, `the upgrade of ${url}`)
}

/** One legitimate client: connect, echo one message, close. */
async function legitimateEcho (server: ChildServer, round: number): Promise<void> {
  const socket = await connectTo(`${server.url}/ws`)
  const echoed = new Promise<string>((resolve) => socket.once('message', (data: Buffer) => resolve(data.toString())))
  socket.send(`round ${round}`)
  assert.equal(await withExpiry(echoed, 5000, `the echo of round ${round}`), `round ${round}`)
  socket.close()
}

/**
 * While `done()` is false (and at least `minRounds` times): a legitimate client echoes, then the
 * server's memory is sampled. Returns the highest growth over `base` seen.
 */
async function duringAttack (server: ChildServer, base: number, done: () => Promise<boolean>, minRounds = 5): Promise<number> {
  let peak = 0
  const deadline = Date.now() + 20_000
  for (let round = 0; round < minRounds || !(await done()); round++) {
    if (Date.now() > deadline) throw new Error('the attack was not cut within 20 s')
    await legitimateEcho(server, round)
    peak = Math.max(peak, held(await server.memory()) - base)
    await delay(50)
  }
  return peak
}

async function start (plugin: Record<string, unknown>): Promise<{ server: ChildServer, base: number, stats: () => Promise<Stats> }> {
  const server = await startChildServer({ fixture: FIXTURE, options: { plugin }, heapMiB: 256 })
  // Warm up the echo path so its one-time allocations are in the baseline.
  await legitimateEcho(server, -1)
  const base = held(await server.memory())
  return { server, base, stats: async () => await server.stats() as unknown as Stats }
}

describe('a client that never reads, against a server in a child process', () => {
  test('plain route, fire-and-forget flood: memory stays within the cap plus the margin, the reader is cut with 4420, others keep echoing', async (t) => {
    const { server, base, stats } = await start({ maxBufferedBytes: CAP })
    t.after(() => server.kill())
    const slow = await connectTo(`${server.url}/flood`)
    tcpOf(slow).pause()
    slow.send('go')
    const peak = await duringAttack(server, base, async () => (await stats()).closes['4420'] === 1)
    const seen = await stats()
    t.diagnostic(`fire-and-forget: peak growth ${(peak / MiB).toFixed(1)} MiB, largest buffer ${(seen.maxBuffered / MiB).toFixed(2)} MiB`)
    assert.ok(peak <= CAP + MARGIN, `grew by ${(peak / MiB).toFixed(1)} MiB`)
    assert.ok(seen.maxBuffered <= CAP + 64 * 1024, 'the socket never buffered more than the cap plus one message')
    assert.equal(seen.sendErrors.FRWS_ERR_SLOW_CONSUMER, 1)
    slow.terminate()
  })

  test('plain route, an app that awaits every send: held back, then cut with 4420 after drainTimeout', async (t) => {
    const { server, base, stats } = await start({ maxBufferedBytes: CAP, drainTimeout: 500 })
    t.after(() => server.kill())
    const slow = await connectTo(`${server.url}/await-flood`)
    tcpOf(slow).pause()
    slow.send('go')
    const peak = await duringAttack(server, base, async () => (await stats()).closes['4420'] === 1)
    const seen = await stats()
    t.diagnostic(`awaiting sender: peak growth ${(peak / MiB).toFixed(1)} MiB`)
    assert.ok(peak <= CAP + MARGIN, `grew by ${(peak / MiB).toFixed(1)} MiB`)
    assert.equal(seen.sendErrors.FRWS_ERR_SLOW_CONSUMER, 1, 'the awaited send rejected as a slow consumer')
    slow.terminate()
  })

  test('reliable route, a client that acks without reading: cut with 4420, the session is suspended, memory stays bounded', async (t) => {
    const { server, base, stats } = await start({ maxBufferedBytes: CAP })
    t.after(() => server.kill())
    const peer = await openPeer(`${server.url}/reliable-flood`)
    await peer.handshake()
    tcpOf(peer.socket).pause()
    peer.sendData(1, 'go')
    let acking = true
    const acker = (async () => {
      while (acking && peer.socket.readyState === WebSocket.OPEN) {
        const { reliableLastSeq } = await stats()
        if (reliableLastSeq > 0) peer.sendAck(reliableLastSeq)
        await delay(5)
      }
    })()
    const peak = await duringAttack(server, base, async () => (await stats()).suspends['4420'] === 1)
    acking = false
    await acker
    const seen = await stats()
    t.diagnostic(`reliable acker: peak growth ${(peak / MiB).toFixed(1)} MiB, acked up to seq ${seen.reliableLastSeq}`)
    // The unacked log (maxUnackedBytes, 1 MiB) is bounded by its own cap.
    assert.ok(peak <= CAP + MiB + MARGIN, `grew by ${(peak / MiB).toFixed(1)} MiB`)
    assert.deepEqual(seen.closes, {}, 'the session did not end')
    peer.terminate()
  })
})
