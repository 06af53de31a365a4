// ReliableConnection (lib/reliable/reliable-connection.ts) closing and terminating a suspended
// session, and the control frames a client may send after the handshake.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { CloseInfo, ReliableConnection } from '../../lib/index.js'
import { helloFrame } from '../helpers/protocol-peer.js'
import { waitFor } from '../helpers/server.js'
import { startReliableServer } from './reliable-server.js'

describe('a suspended session ended by the application', () => {
  const cases: Array<[string, (c: ReliableConnection) => void, CloseInfo]> = [
    ['close(4000, reason) ends it with that code and reason', (c) => c.close(4000, 'done here'), { code: 4000, reason: 'done here', cause: 'server' }],
    ['close() without a reason ends it with 1000 and an empty reason', (c) => c.close(), { code: 1000, reason: '', cause: 'server' }],
    ['terminate() ends it with 1006', (c) => c.terminate(), { code: 1006, reason: '', cause: 'server' }]
  ]
  for (const [title, end, expected] of cases) {
    test(title, async (t) => {
      const server = await startReliableServer({ reliable: true })
      t.after(() => server.stop())
      const peer = await server.peer()
      await peer.handshake()
      const connection = server.connections[0]
      const closed = new Promise<CloseInfo>((resolve) => connection.once('close', resolve))
      peer.terminate()
      await waitFor(() => server.events.includes('suspend'), 'the session to be suspended', 5000)
      end(connection)
      assert.deepEqual(await closed, expected)
    })
  }
})

describe('control frames after the handshake', () => {
  test('a pong from the client is taken as a sign of life, not as a bad frame', async (t) => {
    const server = await startReliableServer({ reliable: true })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    peer.sendRaw('frws:pong:1')
    peer.sendData(1, 'after the pong')
    assert.equal((await peer.nextOfType('A', 5000)).raw, 'A1')
    assert.equal(peer.socket.readyState, peer.socket.OPEN)
  })

  test('a second hello closes with 4400 and says what came', async (t) => {
    const server = await startReliableServer({ reliable: true })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    peer.sendRaw(helloFrame())
    assert.deepEqual(await peer.closed(5000), { code: 4400, reason: 'unexpected hello frame after the handshake' })
  })
})
