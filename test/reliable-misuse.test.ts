import { describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyReliableWsOptions, WsRouteOptions } from '../lib/index.js'
import { helloFrame, resumeOf, startReliable } from './helpers/protocol-peer.js'
import type { ProtocolPeer, ServerSide } from './helpers/protocol-peer.js'
import { waitFor } from './helpers/server.js'

interface MisuseCase {
  /** What the culprit does after its handshake. */
  misbehave: (peer: ProtocolPeer, server: ServerSide) => void | Promise<void>
  code: number
  reason: RegExp
  route?: WsRouteOptions
  plugin?: FastifyReliableWsOptions
  /** Check that the session ended (documented for 4400, 1007, 1009, 4413). @default true */
  checkSessionEnded?: boolean
}

/**
 * Run a misuse on one connection next to a well-behaved one. The culprit must be closed with the
 * documented code and a reason; the bystander must keep working. Returns the server side.
 */
async function expectMisuse (t: TestContext, misuse: MisuseCase): Promise<ServerSide> {
  const server = await startReliable(misuse.route ?? { reliable: true }, misuse.plugin ?? {})
  t.after(() => server.stop())
  const bystander = await server.peer()
  await bystander.handshake()
  const culprit = await server.peer()
  const welcome = await culprit.handshake()
  await waitFor(() => server.connections.length === 2, 'both handlers')

  await misuse.misbehave(culprit, server)
  const closed = await culprit.closed()
  assert.equal(closed.code, misuse.code, `closed with ${closed.code} "${closed.reason}"`)
  assert.match(closed.reason, misuse.reason)

  if (misuse.checkSessionEnded !== false) {
    await waitFor(() => server.closes.length === 1, 'the culprit session to end')
    assert.equal(server.closes[0].cause, 'error')
    assert.equal(server.closes[0].code, misuse.code)
    const again = await server.peer()
    const resumed = await again.handshake(resumeOf(welcome))
    assert.equal(resumed.resumed, false, 'the session cannot be resumed after the misuse')
  }

  bystander.sendData(1, 'still fine')
  assert.equal((await bystander.nextOfType('A')).raw, 'A1')
  assert.equal(bystander.socket.readyState, bystander.socket.OPEN)
  assert.ok(server.messages.some((m) => m.data === 'still fine'))
  return server
}

describe('misuse after the handshake closes that connection only', { concurrency: true }, () => {
  test('an unknown frame type is closed with 4400', async (t) => {
    await expectMisuse(t, { misbehave: (peer) => peer.sendRaw('X1:what'), code: 4400, reason: /unknown frame type 'X'/ })
  })

  test('an unknown frame type in a binary message is closed with 4400', async (t) => {
    await expectMisuse(t, { misbehave: (peer) => peer.sendRaw(Buffer.from('Z1:bytes'), true), code: 4400, reason: /unknown frame type/ })
  })

  test('a data header without the colon is closed with 4400', async (t) => {
    await expectMisuse(t, { misbehave: (peer) => peer.sendRaw('D1hello'), code: 4400, reason: /':'/ })
  })

  test('a data seq with a leading zero is closed with 4400', async (t) => {
    await expectMisuse(t, { misbehave: (peer) => peer.sendRaw('D01:x'), code: 4400, reason: /leading zeros/ })
  })

  test('a seq going backwards on one connection is closed with 4400, after the earlier frames were delivered once', async (t) => {
    const server = await expectMisuse(t, {
      misbehave: (peer) => { peer.sendData(1, 'a'); peer.sendData(2, 'b'); peer.sendData(2, 'b again') },
      code: 4400,
      reason: /backwards/
    })
    assert.deepEqual(server.messages.map((m) => m.data).filter((d) => d !== 'still fine'), ['a', 'b'])
  })

  test('a gap in seqs is closed with 4400', async (t) => {
    const server = await expectMisuse(t, {
      misbehave: (peer) => { peer.sendData(1, 'a'); peer.sendData(3, 'c') },
      code: 4400,
      reason: /gap in seq: expected 2, got 3/
    })
    assert.ok(!server.messages.some((m) => m.data === 'c'), 'the frame after the gap is not delivered')
  })

  test('an ack of a message never sent is closed with 4400', async (t) => {
    await expectMisuse(t, {
      misbehave: async (peer, server) => {
        void server.connections[1].send('only one')
        await peer.nextOfType('D')
        peer.sendAck(2)
      },
      code: 4400,
      reason: /never sent/
    })
  })

  test('an ack followed by other characters is closed with 4400', async (t) => {
    await expectMisuse(t, { misbehave: (peer) => peer.sendRaw('A1 '), code: 4400, reason: /ack/ })
  })

  test('a hello after the handshake is closed with 4400', async (t) => {
    await expectMisuse(t, { misbehave: (peer) => peer.sendRaw(helloFrame()), code: 4400, reason: /hello/ })
  })

  test('a welcome sent by the client is closed with 4400', async (t) => {
    await expectMisuse(t, { misbehave: (peer) => peer.sendRaw('W{"version":1}'), code: 4400, reason: /welcome/ })
  })

  test('a response to a request never sent is closed with 4400', async (t) => {
    await expectMisuse(t, { misbehave: (peer) => peer.sendResponse(1, 5, 'unasked'), code: 4400, reason: /never sent/ })
  })

  test('an error response in a binary message is closed with 4400', async (t) => {
    await expectMisuse(t, {
      misbehave: async (peer, server) => {
        server.connections[1].request('q').catch(() => {})
        await peer.nextOfType('Q')
        peer.sendRaw(Buffer.from('E1,1:binary reason'), true)
      },
      code: 4400,
      reason: /text frame/
    })
  })

  test('a frame starting with f that is not exactly a ping is closed with 4400', async (t) => {
    await expectMisuse(t, { misbehave: (peer) => peer.sendRaw('frws:ping:'), code: 4400, reason: /frws:ping/ })
  })

  test('a frame larger than maxPayload is closed with 1009', async (t) => {
    await expectMisuse(t, {
      plugin: { maxPayload: 1024 },
      misbehave: (peer) => peer.sendData(1, 'x'.repeat(2000)),
      code: 1009,
      reason: /.*/,
      checkSessionEnded: false
    })
  })

  test('a frame larger than maxPayload ends the session', async (t) => {
    await expectMisuse(t, {
      plugin: { maxPayload: 1024 },
      misbehave: (peer) => peer.sendData(1, 'x'.repeat(2000)),
      code: 1009,
      reason: /.*/
    })
  })

  test('a text frame that is not valid UTF-8 is closed with 1007 and ends the session', async (t) => {
    await expectMisuse(t, {
      misbehave: (peer) => peer.socket.send(Buffer.from([0x44, 0x31, 0x3a, 0xff, 0xfe]), { binary: false }),
      code: 1007,
      reason: /.*/
    })
  })

  test('a server send past reliable.maxUnacked closes with 4413, rejects the sends and ends the session', async (t) => {
    const sends: Array<Promise<void>> = []
    const server = await expectMisuse(t, {
      route: { reliable: { maxUnacked: 4, ackEvery: 2 } },
      misbehave: async (peer, server) => {
        const connection = server.connections[1]
        for (let i = 1; i <= 4; i++) sends.push(connection.send(`m${i}`))
        for (let i = 1; i <= 4; i++) await peer.nextOfType('D')
        sends.push(connection.send('m5 does not fit'))
      },
      code: 4413,
      reason: /buffer overflow/
    })
    const outcomes = await Promise.allSettled(sends)
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'rejected', 'rejected', 'rejected'])
    for (const outcome of outcomes) {
      assert.equal(((outcome as PromiseRejectedResult).reason as { code?: string }).code, 'FRWS_ERR_SESSION_ENDED')
    }
    assert.equal(server.connections[1].isEnded, true)
    assert.equal(server.connections[1].unackedCount, 4, 'the refused message was never queued')
  })

  test('a server send past reliable.maxUnackedBytes closes with 4413; the sends that fitted were numbered 1, 2', async (t) => {
    const sends: Array<Promise<void>> = []
    const payload = 'x'.repeat(40)
    const server = await expectMisuse(t, {
      // 'D1:' plus 40 bytes is 43 bytes: two frames (86) fit in 100 bytes, a third (129) does not.
      route: { reliable: { maxUnackedBytes: 100, ackEvery: 1000 } },
      misbehave: async (peer, server) => {
        const connection = server.connections[1]
        sends.push(connection.send(payload), connection.send(payload))
        const seqs = [(await peer.nextOfType('D')).frame, (await peer.nextOfType('D')).frame].map((frame) => (frame as { seq: number }).seq)
        assert.deepEqual(seqs, [1, 2])
        assert.equal(connection.unackedCount, 2)
        sends.push(connection.send(payload))
      },
      code: 4413,
      reason: /buffer overflow/
    })
    const outcomes = await Promise.allSettled(sends)
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'rejected'])
    for (const outcome of outcomes) {
      assert.equal(((outcome as PromiseRejectedResult).reason as { code?: string }).code, 'FRWS_ERR_SESSION_ENDED')
    }
    assert.equal(server.connections[1].unackedCount, 2, 'the refused message was never queued')
  })

  test('a session whose acks keep up never overflows reliable.maxUnacked', async (t) => {
    const server = await startReliable({ reliable: { maxUnacked: 4, ackEvery: 2 } })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    await waitFor(() => server.connections.length === 1, 'the handler')
    for (let i = 1; i <= 12; i++) {
      const sent = server.connections[0].send(`m${i}`)
      await peer.nextOfType('D')
      peer.sendAck(i)
      await sent
    }
    assert.equal(peer.socket.readyState, peer.socket.OPEN)
  })

  test('a hello that is not JSON is closed with 4400 and another client keeps working', async (t) => {
    const server = await startReliable()
    t.after(() => server.stop())
    const bystander = await server.peer()
    await bystander.handshake()
    const culprit = await server.peer()
    culprit.sendRaw('H{not json')
    const closed = await culprit.closed()
    assert.equal(closed.code, 4400)
    assert.match(closed.reason, /JSON/)
    bystander.sendData(1, 'still fine')
    assert.equal((await bystander.nextOfType('A')).raw, 'A1')
  })
})
