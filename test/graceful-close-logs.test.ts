// The log lines of the shutdown (lib/graceful-close.ts), where mutants survived the rest of the
// suite (docs/TESTING.md, "Mutation testing"): the counts they carry, the warning when sockets
// had to be terminated, and no line at all when nothing was open.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, captureLogs, cleanup, listen, openClient, rawUpgrade, waitFor, withExpiry, LogLevel } from './helpers/server.js'

const CLOSING = 'closing websocket connections'
const TERMINATING = 'terminating websocket sockets that ignored the close frame'

describe('fastify.close() log lines', () => {
  test('logs what it closes with the counts and closeTimeout, and warns with the counts left when it has to terminate', async (t) => {
    const logs = captureLogs()
    const closeTimeout = 200
    const app = await buildApp({ closeTimeout }, (app) => { app.wsRoute('/ws', () => {}) }, { logger: { level: 'info', stream: logs.stream } })
    t.after(() => cleanup(app))
    const url = await listen(app)
    // A raw upgrade never answers the close frame.
    const silent = await rawUpgrade(`${url}/ws`)
    t.after(() => silent.socket.destroy())
    await waitFor(() => app.wsConnections.size === 1, 'the silent connection')
    await withExpiry(app.close(), 5000, 'fastify.close()')

    const closing = logs.lines.filter((line) => line.msg === CLOSING)
    assert.deepEqual(closing.map(({ level, connections, sockets, closeTimeout }) => ({ level, connections, sockets, closeTimeout })),
      [{ level: LogLevel.info, connections: 1, sockets: 1, closeTimeout }])
    const terminating = logs.lines.filter((line) => line.msg === TERMINATING)
    assert.deepEqual(terminating.map(({ level, connections, sockets }) => ({ level, connections, sockets })),
      [{ level: LogLevel.warn, connections: 1, sockets: 1 }])
  })

  test('does not warn about terminating when every client answered the close frame in time', async (t) => {
    const logs = captureLogs()
    const app = await buildApp({ closeTimeout: 5000 }, (app) => { app.wsRoute('/ws', () => {}) }, { logger: { level: 'info', stream: logs.stream } })
    t.after(() => cleanup(app))
    const url = await listen(app)
    const client = await openClient(`${url}/ws`)
    t.after(() => client.socket.terminate())
    await waitFor(() => app.wsConnections.size === 1, 'the connection')
    await withExpiry(app.close(), 5000, 'fastify.close()')
    assert.deepEqual(await withExpiry(client.closed, 2000, 'the close frame'), { code: 1001, reason: 'server shutting down' })
    assert.equal(logs.lines.filter((line) => line.msg === CLOSING).length, 1)
    assert.deepEqual(logs.lines.filter((line) => line.msg === TERMINATING), [])
  })

  test('writes no shutdown line when no socket was open', async (t) => {
    const logs = captureLogs()
    const app = await buildApp({}, (app) => { app.wsRoute('/ws', () => {}) }, { logger: { level: 'info', stream: logs.stream } })
    t.after(() => cleanup(app))
    await listen(app)
    await withExpiry(app.close(), 5000, 'fastify.close()')
    // The shutdown ran (close() resolved after it) and pino writes each line synchronously.
    assert.deepEqual(logs.lines.filter((line) => line.msg === CLOSING || line.msg === TERMINATING), [])
  })
})
