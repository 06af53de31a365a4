// The decision on a resume (lib/reliable/resume-decision.ts) when the position the client presents
// does not fit the session: the log line of each outcome, and what the store is left with when the
// claim is handed back (released again if the session was suspended, left attached if it was).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MemorySessionStore } from '../../lib/index.js'
import { sessionTag } from '../../lib/reliable/session-tag.js'
import { helloFrame, resumeOf } from '../helpers/protocol-peer.js'
import { LogLevel, waitFor } from '../helpers/server.js'
import { startReliableServer } from './reliable-server.js'

const SESSION_TIMEOUT = 60_000
// Long enough that no real-time expiry runs during a test; the store's clock is moved by hand.
const ROUTE = { reliable: { sessionTimeout: SESSION_TIMEOUT } }
const PLUGIN = { sessionBudget: { unackedSessionTimeout: SESSION_TIMEOUT } }

describe('resume positions that do not fit the session', () => {
  test('a position behind the acknowledged one is refused with 4400 and an info line naming the positions', async (t) => {
    const server = await startReliableServer(ROUTE, PLUGIN, (connection) => {
      void connection.send('one')
      void connection.send('two')
    })
    t.after(() => server.stop())
    const first = await server.peer()
    const welcome = await first.handshake()
    await first.nextOfType('D')
    await first.nextOfType('D')
    first.sendAck(2)
    await waitFor(() => server.connections[0]?.unackedCount === 0, 'the server to take the ack')
    first.terminate()
    await waitFor(() => server.events.includes('suspend'), 'the session to be suspended')

    const behind = await server.peer()
    behind.sendRaw(helloFrame({ resume: resumeOf(welcome, 1) }))
    const closed = await behind.closed(5000)
    assert.equal(closed.code, 4400)
    assert.equal(closed.reason, 'resume position 1 is behind the acknowledged 2')
    const lines = server.logs.filter((line) => line.msg === 'resume refused: position behind the acknowledged one')
    assert.equal(lines.length, 1)
    assert.equal(lines[0].level, LogLevel.info)
    assert.equal(lines[0].session, sessionTag(welcome.sessionId))
    assert.equal(lines[0].delivered, 1)
    assert.equal(lines[0].acked, 2)
    assert.equal(lines[0].lastSeq, 2)
  })

  test('a position beyond what the session sent starts a new session, with a warning naming the positions', async (t) => {
    const server = await startReliableServer(ROUTE, PLUGIN, (connection) => { void connection.send('one') })
    t.after(() => server.stop())
    const first = await server.peer()
    const welcome = await first.handshake()
    await first.nextOfType('D')
    first.terminate()
    await waitFor(() => server.events.includes('suspend'), 'the session to be suspended')

    const beyond = await server.peer()
    const fresh = await beyond.handshake(resumeOf(welcome, 5))
    assert.equal(fresh.resumed, false)
    assert.notEqual(fresh.sessionId, welcome.sessionId)
    const lines = server.logs.filter((line) => line.msg === 'resume position beyond the session; starting a new one')
    assert.equal(lines.length, 1)
    assert.equal(lines[0].level, LogLevel.warn)
    assert.equal(lines[0].session, sessionTag(welcome.sessionId))
    assert.equal(lines[0].delivered, 5)
    assert.equal(lines[0].acked, 0)
    assert.equal(lines[0].lastSeq, 1)
  })

  test('a suspended session whose claim is handed back expires in the store as before; an attached one does not', async (t) => {
    let now = 1_000_000
    const store = new MemorySessionStore({ now: () => now })
    const server = await startReliableServer(ROUTE, { ...PLUGIN, sessionStore: store })
    t.after(() => server.stop())
    const suspendedPeer = await server.peer()
    const suspended = await suspendedPeer.handshake()
    suspendedPeer.terminate()
    await waitFor(() => server.events.includes('suspend'), 'the session to be suspended')
    const attachedPeer = await server.peer()
    const attached = await attachedPeer.handshake()

    // Each resumed from a position beyond the session: claimed, then handed back.
    for (const welcome of [suspended, attached]) {
      const fresh = await (await server.peer()).handshake(resumeOf(welcome, 5))
      assert.equal(fresh.resumed, false)
    }
    assert.ok(await store.get(suspended.sessionId) !== undefined)
    now += SESSION_TIMEOUT
    assert.equal(await store.get(suspended.sessionId), undefined, 'the suspended session expired on time in the store')
    assert.ok(await store.get(attached.sessionId) !== undefined, 'the attached session has no expiry in the store')
    // The attached owner still works.
    attachedPeer.sendData(1, 'still here')
    assert.equal((await attachedPeer.nextOfType('D')).raw, 'D1:still here')
  })
})
