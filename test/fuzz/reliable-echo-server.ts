/**
 * The server the reliable-protocol fuzzers talk to: one reliable echo route (a message is sent
 * back, a request answered with its own payload) that records what each session delivered and how
 * it closed, a session store whose size can be read, and one session beside the fuzzed ones.
 */
import assert from 'node:assert/strict'
import { MemorySessionStore } from '../../lib/index.js'
import { startReliable } from '../helpers/protocol-peer.js'
import type { ProtocolPeer, ServerSide } from '../helpers/protocol-peer.js'
import { SINGLE_ADDRESS_LOAD, waitFor } from '../helpers/server.js'
import { recordProcessFaults } from './fuzz-settings.js'
import type { ProcessFaults } from './fuzz-settings.js'

/** A running fuzz target. */
export interface ReliableEchoServer {
  readonly server: ServerSide
  readonly store: MemorySessionStore
  /** What the application received, per live session. */
  readonly deliveredBySession: Map<string, Array<string | Buffer>>
  /** The `close` event of each ended session (take it with `takeClose`). */
  takeClose (sessionId: string): { code: number, cause: string } | undefined
  /**
   * After a case: every session but the one beside has ended on the server, the session beside
   * still echoes, and nothing was thrown or rejected unhandled in the process.
   */
  checkAftermath (): Promise<void>
  stop (): Promise<void>
}

/** Start the server and open the session beside. */
export async function startReliableEchoServer (maxPayload: number): Promise<ReliableEchoServer> {
  const faults: ProcessFaults = recordProcessFaults()
  const store = new MemorySessionStore()
  const deliveredBySession = new Map<string, Array<string | Buffer>>()
  const closeBySession = new Map<string, { code: number, cause: string }>()
  const server = await startReliable({ reliable: true }, { maxPayload, sessionStore: store, ...SINGLE_ADDRESS_LOAD }, (connection) => {
    const delivered: Array<string | Buffer> = []
    deliveredBySession.set(connection.sessionId, delivered)
    connection.on('message', (data) => {
      delivered.push(data)
      void connection.send(data)
    })
    connection.on('close', ({ code, cause }) => {
      deliveredBySession.delete(connection.sessionId)
      closeBySession.set(connection.sessionId, { code, cause })
    })
    connection.on('request', (data, _isBinary, respond) => respond(data))
  })
  const beside: ProtocolPeer = await server.peer()
  const besideWelcome = await beside.handshake()
  let besideSeq = 0
  return {
    server,
    store,
    deliveredBySession,
    takeClose (sessionId) {
      const info = closeBySession.get(sessionId)
      closeBySession.delete(sessionId)
      return info
    },
    async checkAftermath () {
      const counts = (): number[] => [server.app.wsConnections.size, server.app.wsHeartbeat.stats().connections, store.size, deliveredBySession.size]
      await waitFor(() => counts().every((count) => count === 1), 'every fuzzed session to end', 5000).catch((error: Error) => {
        throw new Error(`${error.message}: [connections, heartbeat, stored sessions, live sessions] = [${counts().join(', ')}]`)
      })
      assert.ok(deliveredBySession.has(besideWelcome.sessionId), 'the session beside is alive')
      const seq = ++besideSeq
      beside.sendData(seq, `beside ${seq}`)
      const echo = await beside.nextOfType('D', 5000)
      assert.equal(echo.raw, `D${seq}:beside ${seq}`, 'the session beside still echoes')
      beside.sendAck(seq)
      assert.deepEqual(faults.faults, [], 'no uncaught exception or unhandled rejection')
    },
    async stop () {
      faults.uninstall()
      await server.stop()
      await store.close()
    }
  }
}
