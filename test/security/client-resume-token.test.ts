import { describe, it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { ClientErrorCode, type ReliableClient, type ReliableClientError } from '../../lib/client/index.js'
import { ScriptedPeer, nextEvent, settle, startClient } from '../helpers/client-peer.js'

const TOKEN_A = 'token-a-of-the-first-welcome'
const TOKEN_B = 'token-b-of-the-resumed-welcome'

describe('the client and its resume token', () => {
  let peer: ScriptedPeer
  let clients: ReliableClient[] = []

  beforeEach(async () => { peer = await ScriptedPeer.start() })
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()))
    clients = []
    await peer.close()
  })

  it('presents the token of the latest welcome on each resume', async () => {
    const client = startClient(peer.url)
    clients.push(client)
    const first = await peer.nextConnection()
    await first.handshake({ resumeToken: TOKEN_A })
    await nextEvent(client, 'open')
    first.terminate()

    const second = await peer.nextConnection()
    const hello = await second.handshake({ resumed: true, resumeToken: TOKEN_B })
    assert.equal(hello.resume?.token, TOKEN_A)
    await nextEvent(client, 'resumed')
    second.terminate()

    const third = await peer.nextConnection()
    assert.equal((await third.handshake({ resumed: true })).resume?.token, TOKEN_B, 'the rotated token, not the first one')
  })

  for (const code of [4403, 4421]) {
    it(`after ${code} it starts a new session without resume and reports continuity lost`, async () => {
      const client = startClient(peer.url)
      clients.push(client)
      const first = await peer.nextConnection()
      await first.handshake({ resumeToken: TOKEN_A })
      await nextEvent(client, 'open')
      const transmitted = client.send('sent before the refusal')
      await first.nextNonAck()
      first.terminate()

      const refusing = await peer.nextConnection()
      assert.equal((await refusing.next()).type, 'H')
      const closed = nextEvent(client, 'close')
      refusing.socket.close(code, 'scripted refusal')
      const [closeEvent] = await closed
      assert.equal(closeEvent.willReconnect, true)

      const fresh = await peer.nextConnection()
      const lost = nextEvent(client, 'continuityLost')
      const hello = await fresh.handshake({ sessionId: 'session-2', epoch: 'epoch-2', resumeToken: TOKEN_B })
      assert.equal(hello.resume, undefined, 'no resume after a refused one')
      assert.deepEqual((await lost)[0], { previousSessionId: 'session-1', sessionId: 'session-2', lost: 1 })
      assert.equal(((await settle(transmitted)).error as ReliableClientError).code, ClientErrorCode.CONTINUITY_LOST)
      assert.equal(client.sessionId, 'session-2')
    })
  }
})
