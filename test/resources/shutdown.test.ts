import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { REFUSED_CLOSE_TIMEOUT } from '../../lib/bounded-close.js'
import { TERMINATE_GRACE } from '../../lib/graceful-close.js'
import { buildApp, captureLogs, cleanup, listen, rawUpgrade, waitFor, withExpiry } from '../helpers/server.js'
import type { LogLine } from '../helpers/server.js'
import { helloFrame, openPeer, resumeOf } from '../helpers/protocol-peer.js'
import type { ProtocolPeer } from '../helpers/protocol-peer.js'

/** Slack on top of the documented bound, for a loaded machine (two cores, several test runs). */
const SLACK = 2000

interface Scene {
  app: FastifyInstance
  url: string
  logs: LogLine[]
  /** The server side of every upgrade, by the request's `x-tag` header. */
  serverSockets: Map<string, Duplex>
  /** When each tagged server socket closed (ms since the epoch). */
  closedAt: Map<string, number>
  peers: ProtocolPeer[]
}

/** An app with a reliable route (principal from `x-user`), a plain echo route and an app GET route. */
async function startScene (t: { after: (fn: () => unknown) => void }, closeTimeout: number): Promise<Scene> {
  const logs = captureLogs()
  const app = await buildApp({ closeTimeout, upgradeRate: false }, (app) => {
    app.wsRoute('/r', {
      reliable: { principal: (request) => (request.headers['x-user'] as string | undefined) ?? null },
      handshakeTimeout: 30_000
    }, () => {})
    app.get('/hello', async () => 'hello')
  }, { logger: { level: 'info', stream: logs.stream } })
  const scene: Scene = { app, url: '', logs: logs.lines, serverSockets: new Map(), closedAt: new Map(), peers: [] }
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex) => {
    const tag = String(request.headers['x-tag'])
    scene.serverSockets.set(tag, socket)
    socket.once('close', () => scene.closedAt.set(tag, Date.now()))
  })
  t.after(async () => {
    for (const peer of scene.peers) peer.terminate()
    await cleanup(app)
  })
  scene.url = await listen(app)
  return scene
}

async function peer (scene: Scene, tag: string, user: string): Promise<ProtocolPeer> {
  const opened = await openPeer(`${scene.url}/r`, { headers: { 'x-tag': tag, 'x-user': user } })
  scene.peers.push(opened)
  return opened
}

/** A peer refused with 4401 (a resume of alice's session by mallory) that ignores the close frame. */
async function refusedPeer (scene: Scene): Promise<void> {
  const alice = await peer(scene, 'alice', 'alice')
  const welcome = await alice.handshake()
  alice.terminate()
  await waitFor(() => scene.closedAt.has('alice'), 'alice to drop')
  const mallory = await peer(scene, 'refused', 'mallory')
  mallory.sendRaw(helloFrame({ resume: resumeOf(welcome) }))
  // It never reads again, so it never answers the 4401 close frame.
  mallory.socket.pause()
  await waitFor(() => scene.logs.some((line) => line.msg === 'session belongs to another principal'), 'the 4401 refusal')
}

/** A peer whose session was resumed on another connection (4409) and that ignores the close frame. */
async function replacedPeer (scene: Scene): Promise<void> {
  const old = await peer(scene, 'replaced', 'bob')
  const welcome = await old.handshake()
  old.socket.pause()
  const fresh = await peer(scene, 'resumer', 'bob')
  const resumed = await fresh.handshake(resumeOf(welcome))
  assert.equal(resumed.resumed, true)
  fresh.terminate()
}

describe('a socket refused or replaced by the server', () => {
  test(`is terminated ${REFUSED_CLOSE_TIMEOUT} ms after the close frame when the peer ignores it (not after ws's 30 s)`, async (t) => {
    const scene = await startScene(t, 5000)
    const refusedAt = Date.now()
    await refusedPeer(scene)
    await replacedPeer(scene)
    await waitFor(() => scene.closedAt.has('refused') && scene.closedAt.has('replaced'), 'both sockets to be cut off', REFUSED_CLOSE_TIMEOUT + 3000)
    for (const tag of ['refused', 'replaced']) {
      const after = (scene.closedAt.get(tag) ?? 0) - refusedAt
      assert.ok(after >= REFUSED_CLOSE_TIMEOUT - 20, `${tag}: not before the bound (${after} ms)`)
    }
  })
})

describe('fastify.close() finishes within closeTimeout plus the documented slack', () => {
  for (const closeTimeout of [1000, 3000]) {
    test(`closeTimeout ${closeTimeout}: with a socket awaiting its hello, refused (4401), replaced (4409), and an upgrade to a non-WebSocket route`, async (t) => {
      const scene = await startScene(t, closeTimeout)
      const awaiting = await rawUpgrade(`${scene.url}/r`, { 'x-tag': 'awaiting' })
      assert.equal(awaiting.status, 101)
      const offRoute = await rawUpgrade(`${scene.url}/hello`, { 'x-tag': 'off-route' })
      assert.equal(offRoute.status, 400, 'a non-WebSocket route answers with plain HTTP')
      await waitFor(() => scene.closedAt.has('off-route'), 'the off-route socket to be closed by the server')
      await refusedPeer(scene)
      await replacedPeer(scene)
      const closeFrame = new Promise((resolve) => awaiting.socket.once('data', resolve))

      const started = Date.now()
      await withExpiry(scene.app.close(), closeTimeout + TERMINATE_GRACE + SLACK + 1000, 'fastify.close()')
      const elapsed = Date.now() - started
      await withExpiry(closeFrame, 100, 'the 1001 sent to the socket awaiting its hello')

      assert.ok(elapsed >= closeTimeout - 20, `the silent socket awaiting its hello was given closeTimeout: ${elapsed} ms`)
      assert.ok(elapsed < closeTimeout + TERMINATE_GRACE + SLACK, `closed within closeTimeout + ${TERMINATE_GRACE} ms (+ slack): ${elapsed} ms`)
      for (const tag of ['awaiting', 'refused', 'replaced', 'off-route']) {
        assert.ok(scene.serverSockets.get(tag)?.destroyed, `the ${tag} server socket is gone`)
      }
      assert.ok(scene.logs.some((line) => line.msg === 'terminating websocket sockets that ignored the close frame'))
    })
  }

  test('a socket awaiting its hello gets 1001 at once, and a peer that answers lets the close finish without waiting for closeTimeout', async (t) => {
    const scene = await startScene(t, 60_000)
    const waiting = await peer(scene, 'waiting', 'carol')
    await withExpiry(scene.app.close(), 5000, 'fastify.close()')
    assert.deepEqual(await waiting.closed(), { code: 1001, reason: 'server shutting down' })
  })

  test('a socket on a route the app declared with @fastify/websocket directly gets 1001, and is destroyed at the deadline if it ignores it', async (t) => {
    const app = await buildApp({ closeTimeout: 500 }, (app) => {
      app.get('/own', { websocket: true }, (socket) => { socket.on('message', (data) => socket.send(data)) })
    })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const answering = await openPeer(`${url}/own`, { protocols: [] })
    t.after(() => answering.terminate())
    const silent = await rawUpgrade(`${url}/own`)
    assert.equal(silent.status, 101)
    const silentClosed = new Promise<void>((resolve) => silent.socket.once('close', () => resolve()))
    const started = Date.now()
    await withExpiry(app.close(), 500 + TERMINATE_GRACE + SLACK, 'fastify.close()')
    assert.ok(Date.now() - started >= 480, 'the silent peer was given closeTimeout')
    assert.deepEqual(await answering.closed(), { code: 1001, reason: 'server shutting down' })
    await withExpiry(silentClosed, 2000, 'the silent socket to be cut off')
  })
})
