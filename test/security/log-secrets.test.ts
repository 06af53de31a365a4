import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { sessionTag } from '../../lib/reliable/session-tag.js'
import { helloFrame, resumeOf } from '../helpers/protocol-peer.js'
import type { Welcome } from '../../lib/protocol/handshake.js'
import { waitFor } from '../helpers/server.js'
import type { LogLine } from '../helpers/server.js'
import { startSecurityServer } from './security-server.js'
import type { SecurityServer } from './security-server.js'

/** The log lines whose message is `msg`. */
function linesWith (logs: LogLine[], msg: string | RegExp): LogLine[] {
  return logs.filter((line) => typeof line.msg === 'string' && (typeof msg === 'string' ? line.msg === msg : msg.test(line.msg)))
}

/** Every secret the welcomes handed out and the ids they named must be absent from every log line. */
function assertNoSecrets (server: SecurityServer, welcomes: Welcome[], extra: string[] = []): void {
  const text = server.logs.map((line) => JSON.stringify(line)).join('\n')
  for (const welcome of welcomes) {
    assert.ok(!text.includes(welcome.sessionId), `session id ${welcome.sessionId} appears in the logs`)
    assert.ok(!text.includes(welcome.resumeToken), 'a resume token appears in the logs')
  }
  for (const secret of extra) assert.ok(!text.includes(secret), `${secret} appears in the logs`)
}

describe('no session id or token in the logs', () => {
  test('refused resumes (4403, 4421, 4401) log a session tag, never the id or a token', async (t) => {
    const server = await startSecurityServer()
    t.after(() => server.stop())
    const open = await (await server.peer('/open')).handshake()
    const alice = await (await server.peer('/principal', { 'x-user': 'alice' })).handshake()
    const guessed = 'G'.repeat(43)

    const wrongToken = await server.peer('/open')
    wrongToken.sendRaw(helloFrame({ resume: { ...resumeOf(open), token: guessed } }))
    assert.equal((await wrongToken.closed(5000)).code, 4403)
    const wrongRoute = await server.peer('/room/x')
    wrongRoute.sendRaw(helloFrame({ resume: resumeOf(open) }))
    assert.equal((await wrongRoute.closed(5000)).code, 4421)
    const wrongPrincipal = await server.peer('/principal', { 'x-user': 'mallory' })
    wrongPrincipal.sendRaw(helloFrame({ resume: resumeOf(alice) }))
    assert.equal((await wrongPrincipal.closed(5000)).code, 4401)
    const resumed = await (await server.peer('/open')).handshake(resumeOf(open))
    await waitFor(() => linesWith(server.logs, 'reliable session resumed').length === 1, 'the debug line of the resume')

    for (const [msg, welcome] of [
      ['resume refused: wrong or superseded resume token', open],
      ['session belongs to another route', open],
      ['session belongs to another principal', alice],
      ['reliable session resumed', open]
    ] as const) {
      const lines = linesWith(server.logs, msg)
      assert.equal(lines.length, 1, `one line "${msg}"`)
      assert.equal(lines[0].session, sessionTag(welcome.sessionId), `"${msg}" names the session by its tag`)
    }
    assertNoSecrets(server, [open, alice, resumed], [guessed])
  })

  test('an expired session and a protocol violation log a session tag, never the id or a token', async (t) => {
    const server = await startSecurityServer({ sessionTimeout: 200 })
    t.after(() => server.stop())
    const leaving = await server.peer('/open')
    const expired = await leaving.handshake()
    leaving.terminate()
    await server.waitForEvent('open:close:expired')

    const offender = await server.peer('/open')
    const violated = await offender.handshake()
    offender.sendData(2, 'a gap in seq')
    assert.equal((await offender.closed(5000)).code, 4400)
    await server.waitForEvent('open:close:error')

    for (const [msg, welcome] of [['reliable session expired', expired], ['reliable websocket protocol violation', violated]] as const) {
      const lines = linesWith(server.logs, msg)
      assert.equal(lines.length, 1, `one line "${msg}"`)
      assert.equal(lines[0].session, sessionTag(welcome.sessionId))
    }
    assertNoSecrets(server, [expired, violated])
  })
})

describe('session tags', () => {
  test('a tag is 8 base64url characters, stable for one id and different for another', () => {
    const tag = sessionTag('abcdefghijklmnopqrstuv')
    assert.match(tag, /^[A-Za-z0-9_-]{8}$/)
    assert.equal(sessionTag('abcdefghijklmnopqrstuv'), tag)
    assert.notEqual(sessionTag('abcdefghijklmnopqrstuw'), tag)
    assert.ok(!'abcdefghijklmnopqrstuv'.includes(tag))
  })
})
