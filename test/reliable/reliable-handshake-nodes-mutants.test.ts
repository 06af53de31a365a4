// The reliable handshake (lib/reliable/reliable-handshake.ts) for sessions this node holds
// suspended, sessions it takes over from a shared store (with the `fanout` notice to the node
// that held it), and a new session the memory budget refuses.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { CloseCode, MemorySessionStore } from '../../lib/index.js'
import type { ReliableConnection } from '../../lib/index.js'
import type { Fanout, FanoutMessage } from '../../lib/fanout/fanout.js'
import { MESSAGE_OVERHEAD, SESSION_OVERHEAD } from '../../lib/reliable/session-budget.js'
import { faultyStore } from '../../lib/testing/index.js'
import { helloFrame, resumeOf } from '../helpers/protocol-peer.js'
import { waitFor } from '../helpers/server.js'
import { startReliableServer } from './reliable-server.js'

/** A fanout that keeps what this node publishes and receives nothing. */
function recordingFanout (): Fanout & { published: FanoutMessage[] } {
  const published: FanoutMessage[] = []
  return {
    published,
    async start () {},
    publish (message) { published.push(message) },
    async close () {}
  }
}

const closedWith = (connection: ReliableConnection): Promise<string> =>
  new Promise((resolve) => connection.once('close', (info) => resolve(info.cause)))

describe('resumes', () => {
  test('a session resumed on this node leaves the expiry list: it outlives a session suspended after it', async (t) => {
    const SESSION_TIMEOUT = 3000
    const server = await startReliableServer({ reliable: { sessionTimeout: SESSION_TIMEOUT } }, { sessionBudget: { unackedSessionTimeout: SESSION_TIMEOUT } })
    t.after(() => server.stop())
    const resumedPeer = await server.peer()
    const resumed = await resumedPeer.handshake()
    const leftPeer = await server.peer()
    await leftPeer.handshake()
    const [resumedSession, leftSession] = server.connections
    // Suspended first, so it would expire first.
    resumedPeer.terminate()
    await waitFor(() => server.events.filter((e) => e === 'suspend').length === 1, 'the first suspension', 5000)
    leftPeer.terminate()
    await waitFor(() => server.events.filter((e) => e === 'suspend').length === 2, 'the second suspension', 5000)
    const back = await server.peer()
    assert.equal((await back.handshake(resumeOf(resumed))).resumed, true)
    let resumedEnded: string | undefined
    void closedWith(resumedSession).then((cause) => { resumedEnded = cause })

    assert.equal(await closedWith(leftSession), 'expired')
    assert.equal(resumedEnded, undefined, 'the resumed session did not expire')
    back.sendData(1, 'still attached')
    assert.equal((await back.nextOfType('D', 5000)).raw, 'D1:still attached')
  })

  test('a session taken over from the shared store is announced to the other nodes; a resume on the same node is not', async (t) => {
    const store = new MemorySessionStore()
    const fanoutA = recordingFanout()
    const fanoutB = recordingFanout()
    const nodeA = await startReliableServer({ reliable: true }, { sessionStore: store, fanout: fanoutA })
    t.after(() => nodeA.stop())
    const nodeB = await startReliableServer({ reliable: true }, { sessionStore: store, fanout: fanoutB })
    t.after(() => nodeB.stop())
    const first = await nodeA.peer()
    const welcome = await first.handshake()
    const ownerOnA = nodeA.connections[0].ownerId
    first.terminate()
    await waitFor(() => nodeA.events.includes('suspend'), 'the session to be suspended on node A')

    const moved = await nodeB.peer()
    const onB = await moved.handshake(resumeOf(welcome))
    assert.equal(onB.resumed, true)
    assert.deepEqual(fanoutB.published, [{ kind: 'claim', sessionId: welcome.sessionId, previousOwner: ownerOnA }])
    moved.terminate()
    await waitFor(() => nodeB.events.includes('suspend'), 'the session to be suspended on node B')
    const again = await nodeB.peer()
    assert.equal((await again.handshake(resumeOf(onB))).resumed, true)
    assert.equal(fanoutB.published.length, 1, 'a resume of a session node B holds is not announced')
    assert.deepEqual(fanoutA.published, [])
  })
})

describe('the memory budget', () => {
  test('a new session that does not fit is refused with 4507 and deleted from the store', async (t) => {
    const least = SESSION_OVERHEAD + MESSAGE_OVERHEAD + 1
    const store = faultyStore(new MemorySessionStore())
    const server = await startReliableServer({ reliable: true }, { sessionStore: store, sessionBudget: { maxTotalBytes: least, maxSessionBytes: least } })
    t.after(() => server.stop())
    await (await server.peer()).handshake()
    const refused = await server.peer()
    refused.sendRaw(helloFrame())
    const closed = await refused.closed(5000)
    assert.equal(closed.code, CloseCode.SESSION_SHED)
    assert.equal(store.calls.create, 2)
    await waitFor(() => store.calls.delete === 1, 'the refused session to be deleted', 5000)
    assert.equal(store.calls.release, 0)
    const line = server.logs.find((entry) => entry.msg === 'reliable session refused: session budget exceeded')
    assert.equal(line?.limit, 'maxTotalBytes')
    assert.equal(typeof line?.usedBytes, 'number')
  })

  test('a session resumed on this node needs no room: the budget is not asked, nothing is shed', async (t) => {
    const least = SESSION_OVERHEAD + MESSAGE_OVERHEAD + 1
    const server = await startReliableServer({ reliable: true }, { sessionBudget: { maxTotalBytes: least, maxSessionBytes: least } })
    t.after(() => server.stop())
    const first = await server.peer()
    const welcome = await first.handshake()
    first.terminate()
    await waitFor(() => server.events.includes('suspend'), 'the session to be suspended', 5000)
    const back = await server.peer()
    assert.equal((await back.handshake(resumeOf(welcome))).resumed, true)
    // The budget holds no room for an echo: an ack proves the session reads.
    back.sendData(1, 'still here')
    assert.equal((await back.nextOfType('A', 5000)).raw, 'A1')
    assert.deepEqual(server.events, ['suspend', 'resume'])
  })

  test('a session taken over from the store that does not fit is refused with 4507 and released, not deleted', async (t) => {
    const least = SESSION_OVERHEAD + MESSAGE_OVERHEAD + 1
    const store = faultyStore(new MemorySessionStore())
    const nodeA = await startReliableServer({ reliable: true }, { sessionStore: store })
    t.after(() => nodeA.stop())
    const nodeB = await startReliableServer({ reliable: true }, { sessionStore: store, sessionBudget: { maxTotalBytes: least, maxSessionBytes: least } })
    t.after(() => nodeB.stop())
    const onA = await nodeA.peer()
    const welcome = await onA.handshake()
    onA.terminate()
    await waitFor(() => nodeA.events.includes('suspend'), 'the session to be suspended on node A', 5000)
    await (await nodeB.peer()).handshake() // fills node B's budget
    const releasesBefore = store.calls.release
    const refused = await nodeB.peer()
    refused.sendRaw(helloFrame({ resume: resumeOf(welcome) }))
    assert.equal((await refused.closed(5000)).code, CloseCode.SESSION_SHED)
    await waitFor(() => store.calls.release === releasesBefore + 1, 'the claimed session to be released', 5000)
    assert.equal(store.calls.delete, 0)
    assert.ok(await store.inner.get(welcome.sessionId) !== undefined, 'the session is still in the store')
  })
})
