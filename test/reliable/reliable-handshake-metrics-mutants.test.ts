// The diagnostics channels of the reliable handshake (lib/reliable/reliable-handshake.ts) name the
// route by its pattern (`/room/:name`), not by the path and query string the client asked for.
import { afterEach, beforeEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { CloseCode } from '../../lib/index.js'
import { MESSAGE_OVERHEAD, SESSION_OVERHEAD } from '../../lib/reliable/session-budget.js'
import { helloFrame, openPeer, resumeOf } from '../helpers/protocol-peer.js'
import { buildApp, cleanup, listen, waitFor } from '../helpers/server.js'
import { recordChannels } from '../metrics/recorder.js'
import type { ChannelRecorder } from '../metrics/recorder.js'

let recorder: ChannelRecorder
beforeEach(() => { recorder = recordChannels() })
afterEach(() => recorder.stop())

describe('handshake metrics name the route pattern', () => {
  test('refused, resumed and continuity-lost resumes', async (t) => {
    const app = await buildApp({}, (app) => {
      app.wsRoute('/room/:name', { reliable: true }, () => {})
    })
    t.after(() => cleanup(app))
    const base = await listen(app)
    const url = `${base}/room/a?x=1`
    const first = await openPeer(url)
    t.after(() => first.terminate())
    const welcome = await first.handshake()

    const wrongToken = await openPeer(url)
    wrongToken.sendRaw(helloFrame({ resume: { ...resumeOf(welcome), token: 'G'.repeat(43) } }))
    assert.equal((await wrongToken.closed(5000)).code, CloseCode.RESUME_REFUSED)
    const resumer = await openPeer(url)
    t.after(() => resumer.terminate())
    assert.equal((await resumer.handshake(resumeOf(welcome))).resumed, true)
    const stranger = await openPeer(url)
    t.after(() => stranger.terminate())
    assert.equal((await stranger.handshake({ ...resumeOf(welcome), sessionId: 'unknown-session-id-000' })).resumed, false)

    await waitFor(() => recorder.of('resumeOutcome').length === 3, 'three resume outcomes')
    const route = '/room/:name'
    assert.deepEqual(recorder.of('resumeOutcome').map((m) => [m.route, m.outcome, m.code]), [
      [route, 'refused', CloseCode.RESUME_REFUSED],
      [route, 'resumed', undefined],
      [route, 'continuity_lost', undefined]
    ])
  })

  test('a session the budget cannot hold: its limit hit and its refused resume', async (t) => {
    // Room for one session record (and one small message), not two.
    const least = SESSION_OVERHEAD + MESSAGE_OVERHEAD + 1
    const app = await buildApp({ sessionBudget: { maxTotalBytes: least, maxSessionBytes: least } }, (app) => {
      app.wsRoute('/room/:name', { reliable: true }, () => {})
    })
    t.after(() => cleanup(app))
    const url = `${await listen(app)}/room/a?x=1`
    const first = await openPeer(url)
    t.after(() => first.terminate())
    const welcome = await first.handshake()
    // A fresh hello refused: a limit hit, but no resume outcome.
    const fresh = await openPeer(url)
    fresh.sendRaw(helloFrame())
    assert.equal((await fresh.closed(5000)).code, CloseCode.SESSION_SHED)
    const second = await openPeer(url)
    second.sendRaw(helloFrame({ resume: { ...resumeOf(welcome), sessionId: 'unknown-session-id-000' } }))
    assert.equal((await second.closed(5000)).code, CloseCode.SESSION_SHED)
    const hit = ['/room/:name', CloseCode.SESSION_SHED, 'maxTotalBytes']
    assert.deepEqual(recorder.of('limitHit').map((m) => [m.route, m.code, m.limit]), [hit, hit])
    assert.deepEqual(recorder.of('resumeOutcome').map((m) => [m.route, m.outcome, m.code]), [['/room/:name', 'refused', CloseCode.SESSION_SHED]])
  })
})
