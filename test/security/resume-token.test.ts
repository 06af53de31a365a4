import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { MemorySessionStore } from '../../lib/index.js'
import { hashResumeToken, issueResumeToken, resumeTokenHashesMatch } from '../../lib/reliable/resume-token.js'
import { isValidResumeToken } from '../../lib/protocol/handshake.js'
import { helloFrame, resumeOf } from '../helpers/protocol-peer.js'
import type { ProtocolPeer } from '../helpers/protocol-peer.js'
import { waitFor } from '../helpers/server.js'
import { startSecurityServer } from './security-server.js'

/** Send a resume hello and expect the refusal `code` with no frame received. */
async function assertRefused (peer: ProtocolPeer, hello: string, code: number): Promise<void> {
  peer.sendRaw(hello)
  const closed = await peer.closed(5000)
  assert.equal(closed.code, code, `close reason: ${closed.reason}`)
  assert.equal(peer.received.length, 0, 'no welcome, no replay')
}

describe('resume token primitives', () => {
  test('an issued token is 43 base64url characters (256 bits) with its SHA-256 hash, never the same twice', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 1000; i++) {
      const { token, hash } = issueResumeToken()
      assert.match(token, /^[A-Za-z0-9_-]{43}$/)
      assert.ok(isValidResumeToken(token))
      assert.equal(hash, hashResumeToken(token))
      assert.notEqual(hash, token)
      seen.add(token)
    }
    assert.equal(seen.size, 1000)
  })

  test('hashes match only when equal, and a hash of another length never matches', () => {
    const a = hashResumeToken('token-number-one-xxxxxxxx')
    const b = hashResumeToken('token-number-two-xxxxxxxx')
    assert.equal(resumeTokenHashesMatch(a, a), true)
    assert.equal(resumeTokenHashesMatch(a, b), false)
    assert.equal(resumeTokenHashesMatch(a, a.slice(0, -1)), false)
    assert.equal(resumeTokenHashesMatch(a, ''), false)
  })
})

describe('resume tokens', () => {
  test('every welcome carries a new token', async (t) => {
    const server = await startSecurityServer()
    t.after(() => server.stop())
    const tokens = new Set<string>()
    let welcome = await (await server.peer('/open')).handshake()
    tokens.add(welcome.resumeToken)
    for (let round = 0; round < 3; round++) {
      welcome = await (await server.peer('/open')).handshake(resumeOf(welcome))
      assert.equal(welcome.resumed, true)
      tokens.add(welcome.resumeToken)
    }
    assert.equal(tokens.size, 4)
  })

  test('a replayed old token is refused with 4403 after rotation, and the owner keeps its session attached and suspended', async (t) => {
    const server = await startSecurityServer()
    t.after(() => server.stop())
    const first = await server.peer('/open')
    const old = await first.handshake()
    first.sendData(1, 'one')
    await first.nextOfType('A')
    first.terminate()
    await server.waitForEvent('open:suspend')
    const owner = await server.peer('/open')
    const current = await owner.handshake(resumeOf(old, 0))
    assert.equal(current.resumed, true)
    assert.notEqual(current.resumeToken, old.resumeToken)

    // Attached owner: the old token is refused and the owner's socket stays.
    await assertRefused(await server.peer('/open'), helloFrame({ resume: resumeOf(old) }), 4403)
    owner.sendData(2, 'two')
    assert.equal((await owner.nextOfType('A')).raw, 'A2')
    assert.equal(owner.socket.readyState, owner.socket.OPEN)

    // Suspended owner: the old token is refused, the current one still resumes.
    owner.terminate()
    await waitFor(() => server.events.filter((e) => e === 'open:suspend').length === 2, 'the second suspend')
    await assertRefused(await server.peer('/open'), helloFrame({ resume: resumeOf(old) }), 4403)
    const back = await server.peer('/open')
    const resumed = await back.handshake(resumeOf(current))
    assert.equal(resumed.resumed, true)
    assert.equal(resumed.delivered, 2)
    assert.deepEqual(server.received.open, ['one', 'two'])
    assert.deepEqual(server.events, ['open:suspend', 'open:resume', 'open:suspend', 'open:resume'])
  })

  test('a stolen session id and epoch without the token are refused with 4403, attached and suspended', async (t) => {
    const server = await startSecurityServer()
    t.after(() => server.stop())
    const owner = await server.peer('/open')
    const welcome = await owner.handshake()
    const stolen = { ...resumeOf(welcome), token: 'A'.repeat(43) }
    await assertRefused(await server.peer('/open'), helloFrame({ resume: stolen }), 4403)
    owner.sendData(1, 'mine')
    assert.equal((await owner.nextOfType('A')).raw, 'A1')

    owner.terminate()
    await server.waitForEvent('open:suspend')
    await assertRefused(await server.peer('/open'), helloFrame({ resume: stolen }), 4403)
    const back = await server.peer('/open')
    assert.equal((await back.handshake(resumeOf(welcome, 0))).resumed, true)
  })

  test('a hello whose resume has no token is a protocol error (4400), not a resume', async (t) => {
    const server = await startSecurityServer()
    t.after(() => server.stop())
    const welcome = await (await server.peer('/open')).handshake()
    const peer = await server.peer('/open')
    peer.sendRaw(helloFrame({ extra: { resume: { sessionId: welcome.sessionId, epoch: welcome.epoch, delivered: 0 } } }))
    const closed = await peer.closed(5000)
    assert.equal(closed.code, 4400)
    assert.match(closed.reason, /token/)
  })

  test('the session store holds the hash of the current token, never a token', async (t) => {
    const store = new MemorySessionStore()
    const server = await startSecurityServer({}, { sessionStore: store })
    t.after(async () => { await server.stop(); await store.close() })
    const first = await server.peer('/open')
    const old = await first.handshake()
    first.terminate()
    await server.waitForEvent('open:suspend')
    const current = await (await server.peer('/open')).handshake(resumeOf(old))

    const dump = inspect(store, { depth: 20, showHidden: true })
    assert.ok(dump.includes(hashResumeToken(current.resumeToken)), 'the dump holds the current hash (so this check can see fields)')
    assert.ok(!dump.includes(current.resumeToken), 'no current token in the store')
    assert.ok(!dump.includes(old.resumeToken), 'no old token in the store')
    assert.ok(!dump.includes(hashResumeToken(old.resumeToken)), 'the old hash was replaced')
  })
})
