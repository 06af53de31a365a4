// Conformance of the project's client to [R-CL-12] (docs/PROTOCOL.md, "Client" and "Resume
// token"), against a scripted server that speaks raw frames (test/helpers/client-peer.ts).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ClientErrorCode, type ReliableClientError } from '../../../lib/client/index.js'
import { ScriptedPeer, nextEvent, settle, startClient } from '../../helpers/client-peer.js'

const TOKEN_A = 'token-a-of-the-first-welcome'
const TOKEN_B = 'token-b-of-the-resumed-welcome'

describe('Client and the resume token', () => {
  test('[R-CL-12] the client presents the latest token, and after 4403 or 4421 starts a new session and reports continuity lost', async (t) => {
    const peer = await ScriptedPeer.start()
    const client = startClient(peer.url)
    t.after(async () => { await client.close(); await peer.close() })

    const first = await peer.nextConnection()
    await first.handshake({ resumeToken: TOKEN_A })
    await nextEvent(client, 'open')
    first.terminate()
    const second = await peer.nextConnection()
    assert.equal((await second.handshake({ resumed: true, resumeToken: TOKEN_B })).resume?.token, TOKEN_A)
    await nextEvent(client, 'resumed')
    second.terminate()
    const third = await peer.nextConnection()
    assert.equal((await third.handshake({ resumed: true })).resume?.token, TOKEN_B, 'the rotated token, not the first one')
    await nextEvent(client, 'resumed')

    let session = 1
    let live = third
    for (const code of [4403, 4421]) {
      const transmitted = client.send(`sent before the ${code} refusal`)
      await live.nextNonAck()
      live.terminate()
      const refusing = await peer.nextConnection()
      assert.equal((await refusing.next()).type, 'H')
      const closed = nextEvent(client, 'close')
      refusing.socket.close(code, 'scripted refusal')
      assert.equal((await closed)[0].willReconnect, true, `${code}: the client reconnects`)

      live = await peer.nextConnection()
      const lost = nextEvent(client, 'continuityLost')
      const next = session + 1
      const hello = await live.handshake({ sessionId: `session-${next}`, epoch: `epoch-${next}`, resumeToken: TOKEN_B })
      assert.equal(hello.resume, undefined, `${code}: no resume after a refused one`)
      assert.deepEqual((await lost)[0], { previousSessionId: `session-${session}`, sessionId: `session-${next}`, lost: 1 })
      assert.equal(((await settle(transmitted)).error as ReliableClientError).code, ClientErrorCode.CONTINUITY_LOST)
      assert.equal(client.sessionId, `session-${next}`)
      session = next
    }
  })
})
