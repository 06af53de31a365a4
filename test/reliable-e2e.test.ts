import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { ContinuityLostEvent, ReliableClient, ResumedEvent } from '../lib/client/index.js'
import type { CloseInfo, ReliableConnection, Respond, WsMessage } from '../lib/index.js'
import { openClient, rejectionDelay, waitFor, withExpiry } from './helpers/server.js'
import { FAST_CLIENT, FAST_HEARTBEAT, Scene, codeOf, nextClientEvent, watch } from './helpers/reliable-pair.js'
import type { EventLog, SceneServer } from './helpers/reliable-pair.js'
import { helloFrame } from './helpers/protocol-peer.js'

/** One session as the server's handler saw it. */
interface SessionRecord {
  connection: ReliableConnection
  received: string[]
  closes: CloseInfo[]
}

/** A handler that records each session, and the list it records into. */
function recordingHandler (): { sessions: SessionRecord[], handler: (connection: ReliableConnection) => void } {
  const sessions: SessionRecord[] = []
  return {
    sessions,
    handler: (connection) => {
      const record: SessionRecord = { connection, received: [], closes: [] }
      sessions.push(record)
      connection.on('message', (data: WsMessage) => record.received.push(String(data)))
      connection.on('close', (info) => record.closes.push(info))
    }
  }
}

/** Records the client's continuity events from now on. */
function continuityEvents (client: ReliableClient): { lost: ContinuityLostEvent[], resumed: ResumedEvent[] } {
  const events = { lost: [] as ContinuityLostEvent[], resumed: [] as ResumedEvent[] }
  client.on('continuityLost', (event) => events.lost.push(event))
  client.on('resumed', (event) => events.resumed.push(event))
  return events
}

describe('continuity lost: the session cannot be resumed', () => {
  test('after a session expired while the network was down the client reports continuityLost and resumed { continuity: false }, fails what it had transmitted without an ack and carries what it had queued into the new session', async (t) => {
    const scene = new Scene()
    t.after(() => scene.close())
    const { sessions, handler } = recordingHandler()
    const server = await scene.server({ route: { heartbeat: FAST_HEARTBEAT }, reliable: { sessionTimeout: 300 }, handler })
    const { proxy, url } = await scene.proxy(server.port)
    const { client, log } = scene.client(url, FAST_CLIENT)
    const events = continuityEvents(client)
    const [{ sessionId: firstSessionId }] = await nextClientEvent(client, 'open')
    await client.send('before')
    const old = sessions[0]

    proxy.blackhole()
    // Still believed open: these go out on the dead connection and are never acknowledged.
    const transmitted = [watch(client.send('lost 1')), watch(client.send('lost 2'))]
    const serverSend = watch(old.connection.send('from the server during the outage'))
    await nextClientEvent(client, 'close')
    // The client knows it is offline now: this one waits in its queue.
    const queued = watch(client.send('queued'))
    await waitFor(() => old.closes.length > 0, 'the old session to end on the server', 5000)
    proxy.restore()
    await waitFor(() => events.resumed.length > 0, `the client to reconnect; its events:\n${log.join('\n')}`, 5000)
    await waitFor(() => queued.state !== 'pending', 'the queued send to settle', 5000)

    assert.equal(old.closes[0].cause, 'expired')
    assert.equal(codeOf(serverSend.error), 'FRWS_ERR_SESSION_ENDED')
    assert.equal(sessions.length, 2, 'the resume created a new session')
    const newSessionId = sessions[1].connection.sessionId
    assert.notEqual(newSessionId, firstSessionId)
    assert.deepEqual(events.lost, [{ previousSessionId: firstSessionId, sessionId: newSessionId, lost: 2 }])
    assert.deepEqual(events.resumed, [{ continuity: false, sessionId: newSessionId }])
    assert.equal(client.sessionId, newSessionId)
    assert.deepEqual(transmitted.map((s) => [s.state, codeOf(s.error)]), [
      ['rejected', 'FRWS_ERR_CLIENT_CONTINUITY_LOST'], ['rejected', 'FRWS_ERR_CLIENT_CONTINUITY_LOST']
    ])
    assert.equal(queued.state, 'resolved')
    assert.deepEqual(old.received, ['before'])
    assert.deepEqual(sessions[1].received, ['queued'])

    // The new session works both ways, numbered afresh.
    const echoed = nextClientEvent(client, 'message')
    await sessions[1].connection.send('hello again')
    assert.deepEqual(await echoed, ['hello again', false])
  })

  test('after the server restarted with a fresh in-memory store the client resuming its session is told continuity broke', async (t) => {
    const scene = new Scene()
    t.after(() => scene.close())
    const firstRun = recordingHandler()
    const secondRun = recordingHandler()
    const route = { heartbeat: FAST_HEARTBEAT }
    const first = await scene.server({ plugin: { closeTimeout: 200 }, route, handler: firstRun.handler })
    const { proxy, url } = await scene.proxy(first.port)
    const { client, log } = scene.client(url, FAST_CLIENT)
    const events = continuityEvents(client)
    const [{ sessionId: firstSessionId }] = await nextClientEvent(client, 'open')
    await client.send('before the restart')

    proxy.blackhole()
    const inFlight = watch(client.send('in flight during the restart'))
    await scene.closeApp(first.app)
    await scene.server({ port: first.port, route, handler: secondRun.handler })
    proxy.restore()
    await waitFor(() => events.resumed.length > 0, `the client to reconnect; its events:\n${log.join('\n')}`, 5000)
    const afterRestart = watch(client.send('after the restart'))
    await waitFor(() => afterRestart.state !== 'pending', 'the send after the restart to settle', 5000)

    assert.equal(secondRun.sessions.length, 1)
    const newSessionId = secondRun.sessions[0].connection.sessionId
    assert.deepEqual(events.lost, [{ previousSessionId: firstSessionId, sessionId: newSessionId, lost: 1 }])
    assert.deepEqual(events.resumed, [{ continuity: false, sessionId: newSessionId }])
    assert.equal(codeOf(inFlight.error), 'FRWS_ERR_CLIENT_CONTINUITY_LOST')
    assert.equal(afterRestart.state, 'resolved')
    assert.deepEqual(firstRun.sessions[0].received, ['before the restart'])
    assert.deepEqual(secondRun.sessions[0].received, ['after the restart'])
  })
})

describe('malformed protocol messages from one client', () => {
  const MAX_PAYLOAD = 4096
  let scene: Scene
  let server: SceneServer
  let bystander: ReliableClient
  let bystanderLog: EventLog
  const { sessions, handler } = recordingHandler()

  before(async () => {
    scene = new Scene()
    server = await scene.server({
      plugin: { maxPayload: MAX_PAYLOAD },
      handler: (connection) => {
        handler(connection)
        connection.on('message', (data: WsMessage) => { void connection.send(data) })
      }
    })
    ;({ client: bystander, log: bystanderLog } = scene.client(server.url))
    await nextClientEvent(bystander, 'open')
  })
  after(() => scene.close())

  /** The bystander sends `count` numbered messages one after the other, each awaiting its echo. */
  async function bystanderRoundTrips (label: string, count: number): Promise<string[]> {
    const echoes: string[] = []
    for (let i = 1; i <= count; i++) {
      const echo = nextClientEvent(bystander, 'message')
      await bystander.send(`${label} ${i}`)
      echoes.push(String((await echo)[0]))
    }
    return echoes
  }

  const cases: Array<{ what: string, handshake: boolean, frames: string[], code: number }> = [
    { what: 'a hello that is not valid JSON', handshake: false, frames: ['H{"version":2'], code: 4400 },
    { what: 'a frame of an unknown type', handshake: true, frames: ['X1:what is this'], code: 4400 },
    { what: 'a seq going backwards', handshake: true, frames: ['D1:a', 'D2:b', 'D1:a'], code: 4400 },
    { what: 'an ack of a message never sent', handshake: true, frames: ['A7'], code: 4400 },
    { what: `a frame over maxPayload (${MAX_PAYLOAD} bytes)`, handshake: true, frames: [`D1:${'x'.repeat(MAX_PAYLOAD)}`], code: 1009 }
  ]
  for (const { what, handshake, frames, code } of cases) {
    test(`${what} closes that connection with ${code} while another client keeps exchanging messages`, async () => {
      const sessionsBefore = sessions.length
      const bystanderSession = bystander.sessionId
      const exchanging = bystanderRoundTrips(what, 20)
      const offender = await openClient(server.url)
      let sessionId: string | undefined
      if (handshake) {
        offender.socket.send(helloFrame())
        const welcome = String(await offender.next())
        assert.match(welcome, /^W\{/)
        sessionId = (JSON.parse(welcome.slice(1)) as { sessionId: string }).sessionId
      }
      for (const frame of frames) offender.socket.send(frame)
      const closed = await withExpiry(offender.closed, 2000, 'the offender to be closed')

      assert.equal(closed.code, code, `close reason: ${closed.reason}`)
      assert.deepEqual(await withExpiry(exchanging, 5000, 'the bystander round trips'),
        Array.from({ length: 20 }, (_, i) => `${what} ${i + 1}`))
      assert.equal(bystander.state, 'open')
      assert.equal(bystander.sessionId, bystanderSession)
      assert.deepEqual(bystanderLog.filter((line) => !line.startsWith('open')), [], 'the bystander never lost its connection')
      if (sessionId === undefined) {
        assert.equal(sessions.length, sessionsBefore, 'a refused hello creates no session')
      } else {
        const offended = sessions.find((record) => record.connection.sessionId === sessionId)
        await waitFor(() => offended?.closes.length === 1, 'the offender session to end')
        assert.deepEqual(offended?.closes.map((info) => info.cause), ['error'], 'its session ended')
      }
    })
  }

  test('frames that arrive after a protocol violation, while the server closes the connection, are not delivered to the handler', async () => {
    const offender = await openClient(server.url)
    offender.socket.send(helloFrame())
    const { sessionId } = JSON.parse(String(await offender.next()).slice(1)) as { sessionId: string }
    for (const frame of ['D1:before', 'X2:bad', 'D2:after the violation']) offender.socket.send(frame)
    assert.equal((await withExpiry(offender.closed, 2000, 'the offender to be closed')).code, 4400)
    const offended = sessions.find((record) => record.connection.sessionId === sessionId)
    await waitFor(() => offended?.closes.length === 1, 'the offender session to end')
    assert.deepEqual(offended?.received, ['before'])
  })
})

describe('request and response through the real client and server', () => {
  interface Harness {
    scene: Scene
    client: ReliableClient
    connection: ReliableConnection
    server: SceneServer
  }

  /** A server whose request listener runs `answer`, and a client whose onRequest is `onRequest`. */
  async function harness (
    answer: (data: WsMessage, isBinary: boolean, respond: Respond) => void,
    onRequest: (data: string | Uint8Array) => string | Uint8Array | Promise<string | Uint8Array>,
    throughProxy = false
  ): Promise<Harness & { proxy?: Awaited<ReturnType<Scene['proxy']>>['proxy'] }> {
    const scene = new Scene()
    let connection: ReliableConnection | undefined
    const server = await scene.server({
      route: { heartbeat: FAST_HEARTBEAT },
      handler: (c) => {
        connection = c
        c.on('request', answer)
      }
    })
    const proxied = throughProxy ? await scene.proxy(server.port) : undefined
    const { client } = scene.client(proxied?.url ?? server.url, { ...FAST_CLIENT, onRequest })
    await nextClientEvent(client, 'open')
    await waitFor(() => connection !== undefined, 'the handler to run')
    return { scene, client, connection: connection as ReliableConnection, server, proxy: proxied?.proxy }
  }

  test('client.request() is answered by the server\'s request listener, text and binary, and an error answer rejects with FRWS_ERR_CLIENT_REQUEST_FAILED', async (t) => {
    const { scene, client } = await harness((data, isBinary, respond) => {
      if (isBinary) respond(Buffer.from([...(data as Buffer)].reverse()))
      else if (data === 'explode') respond(new Error('cannot explode'))
      else respond(`sum=${String(data).split('+').reduce((sum, n) => sum + Number(n), 0)}`)
    }, () => 'unused')
    t.after(() => scene.close())

    assert.equal(await client.request('1+2+3'), 'sum=6')
    assert.deepEqual(await client.request(new Uint8Array([1, 2, 3])), new Uint8Array([3, 2, 1]))
    await assert.rejects(client.request('explode'), (error: Error) => {
      assert.equal(codeOf(error), 'FRWS_ERR_CLIENT_REQUEST_FAILED')
      assert.match(error.message, /cannot explode/)
      return true
    })
    const concurrent = await Promise.all(['1+1', '2+2', '3+3'].map((q) => client.request(q)))
    assert.deepEqual(concurrent, ['sum=2', 'sum=4', 'sum=6'])
  })

  test('connection.request() is answered by the client\'s onRequest, text and binary, and a throwing onRequest rejects with FRWS_ERR_REQUEST_FAILED', async (t) => {
    const { scene, connection } = await harness(() => {}, async (data) => {
      if (typeof data !== 'string') return data.slice().reverse()
      if (data === 'explode') throw new Error('client cannot explode')
      return data.toUpperCase()
    })
    t.after(() => scene.close())

    assert.equal(await connection.request('shout'), 'SHOUT')
    assert.deepEqual(await connection.request(Buffer.from([7, 8, 9])), Buffer.from([9, 8, 7]))
    await assert.rejects(connection.request('explode'), (error: Error) => {
      assert.equal(codeOf(error), 'FRWS_ERR_REQUEST_FAILED')
      assert.match(error.message, /client cannot explode/)
      return true
    })
  })

  test('a request nobody answers in time rejects with FRWS_ERR_CLIENT_REQUEST_TIMEOUT on the client and FRWS_ERR_REQUEST_TIMEOUT on the server, and a late answer is dropped', async (t) => {
    let lateRespond: Respond | undefined
    let releaseClientAnswer: ((value: string) => void) | undefined
    const { scene, client, connection } = await harness((data, _isBinary, respond) => {
      if (data === 'never') lateRespond = respond
      else respond(`re: ${String(data)}`)
    }, (data) => data === 'never' ? new Promise<string>((resolve) => { releaseClientAnswer = resolve }) : `re: ${String(data)}`)
    t.after(() => scene.close())
    const errors: string[] = []
    client.on('error', (error) => errors.push(error.message))

    const clientAfter = await rejectionDelay(client.request('never', { timeout: 150 }), (error) => codeOf(error) === 'FRWS_ERR_CLIENT_REQUEST_TIMEOUT', 2000)
    const serverAfter = await rejectionDelay(connection.request('never', { timeout: 150 }), (error) => codeOf(error) === 'FRWS_ERR_REQUEST_TIMEOUT', 2000)
    // Not earlier than the timeout (a timer may fire a millisecond early).
    assert.ok(clientAfter >= 140 && serverAfter >= 140, `rejected after ${clientAfter} ms and ${serverAfter} ms, timeout 150 ms`)
    lateRespond?.('too late')
    releaseClientAnswer?.('too late')

    // Both sides carry on: the late answers went nowhere and broke nothing.
    assert.equal(await client.request('still there?'), 're: still there?')
    assert.equal(await connection.request('still there?'), 're: still there?')
    assert.equal(client.state, 'open')
    assert.deepEqual(errors, [])
  })

  test('requests pending in both directions while the connection drops are answered once after the resume', async (t) => {
    let serverRespond: Respond | undefined
    let clientAnswer: ((value: string) => void) | undefined
    const { scene, client, connection, proxy } = await harness((_data, _isBinary, respond) => { serverRespond = respond },
      () => new Promise<string>((resolve) => { clientAnswer = resolve }), true)
    t.after(() => scene.close())
    const fromServer = client.request('client asks')
    const fromClient = connection.request('server asks')
    fromServer.catch(() => {})
    fromClient.catch(() => {})
    await waitFor(() => serverRespond !== undefined && clientAnswer !== undefined, 'both requests to arrive')

    const suspended = new Promise((resolve) => connection.once('suspend', resolve))
    const closed = nextClientEvent(client, 'close')
    proxy?.cut()
    await withExpiry(suspended, 2000, 'the server to notice the drop')
    await closed
    // Answered while the connection is down: each answer waits in its sender's buffer.
    serverRespond?.('server answers')
    clientAnswer?.('client answers')
    const [resumed] = await nextClientEvent(client, 'resumed')

    assert.equal(resumed.continuity, true)
    assert.equal(await withExpiry(fromClient, 2000, 'the client\'s answer'), 'client answers')
    assert.equal(await withExpiry(fromServer, 2000, 'the server\'s answer'), 'server answers')
  })
})
