// Property-based fuzzing of the reliable handshake: random first frames (hellos valid or not,
// resumes of unknown sessions or of another session with a wrong token, any JSON, any text or
// bytes); a session that starts must then carry data frames.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import WebSocket from 'ws'
import { PROTOCOL_VERSION } from '../../lib/protocol/version.js'
import { openPeer } from '../helpers/protocol-peer.js'
import { waitFor } from '../helpers/server.js'
import { fuzzParameters, replayHint } from './fuzz-settings.js'
import { startReliableEchoServer } from './reliable-echo-server.js'
import type { ReliableEchoServer } from './reliable-echo-server.js'

const MAX_PAYLOAD = 1024
/** CI default; FRWS_FUZZ_RUNS raises it. */
const DEFAULT_RUNS = 300

/** Which session a resume names: an unknown one, or the session beside with a token that is not its own. */
type ResumeTarget = 'unknown session' | 'the session beside, wrong token'

type FirstFrame =
  | { frame: 'hello', version: number, resume?: { target: ResumeTarget, sessionId: string, epoch: string, delivered: number, token: string } }
  | { frame: 'H + any JSON', json: string }
  | { frame: 'text', text: string }
  | { frame: 'bytes', bytes: Uint8Array, binary: boolean }

const idChars = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-')
const firstFrame: fc.Arbitrary<FirstFrame> = fc.oneof({ withCrossShrink: true },
  { weight: 4, arbitrary: fc.record({ frame: fc.constant('hello' as const), version: fc.constant(PROTOCOL_VERSION) }) },
  { weight: 4, arbitrary: fc.record({
    frame: fc.constant('hello' as const),
    version: fc.constant(PROTOCOL_VERSION),
    resume: fc.record({
      target: fc.constantFrom<ResumeTarget>('unknown session', 'the session beside, wrong token'),
      sessionId: fc.string({ unit: idChars, minLength: 1, maxLength: 40 }),
      epoch: fc.string({ unit: idChars, minLength: 1, maxLength: 20 }),
      delivered: fc.nat(),
      token: fc.string({ unit: idChars, minLength: 22, maxLength: 43 })
    })
  }) },
  { weight: 1, arbitrary: fc.record({ frame: fc.constant('hello' as const), version: fc.integer({ min: 1, max: 1000 }).filter((v) => v !== PROTOCOL_VERSION) }) },
  { weight: 2, arbitrary: fc.record({ frame: fc.constant('H + any JSON' as const), json: fc.json({ maxDepth: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ frame: fc.constant('text' as const), text: fc.string({ maxLength: 30 }) }) },
  { weight: 1, arbitrary: fc.record({ frame: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 30 }), binary: fc.boolean() }) })

let target: ReliableEchoServer
let beside: { sessionId: string, epoch: string }

before(async () => {
  target = await startReliableEchoServer(MAX_PAYLOAD)
  const [sessionId] = target.deliveredBySession.keys()
  const stored = await target.store.get(sessionId)
  assert.ok(stored !== undefined)
  beside = { sessionId, epoch: stored.epoch }
})

after(async () => {
  await target.stop()
})

function firstMessage (first: FirstFrame): { data: string | Buffer, binary: boolean } {
  switch (first.frame) {
    case 'hello': {
      const body: Record<string, unknown> = { version: first.version }
      if (first.resume !== undefined) {
        const { target: resumeTarget, sessionId, epoch, delivered, token } = first.resume
        // The beside session's real token is never known here: a guessed one is always wrong.
        body.resume = resumeTarget === 'unknown session'
          ? { sessionId, epoch, delivered, token }
          : { sessionId: beside.sessionId, epoch: beside.epoch, delivered, token }
      }
      return { data: 'H' + JSON.stringify(body), binary: false }
    }
    case 'H + any JSON': return { data: 'H' + first.json, binary: false }
    case 'text': return { data: first.text, binary: false }
    case 'bytes': return { data: Buffer.from(first.bytes), binary: first.binary }
  }
}

/**
 * What docs/PROTOCOL.md says of this first frame: a new session (a resume of an unknown session
 * starts afresh), 4403 for a resume of the session beside with a token not its own ([R-RS-6]), or a
 * close with one of the listed codes.
 */
function allowedOutcomes (message: { data: string | Buffer, binary: boolean }, first: FirstFrame): Array<'welcome' | number> {
  if (first.frame === 'hello') {
    if (first.version !== PROTOCOL_VERSION) return [4426]
    return [first.resume?.target === 'the session beside, wrong token' ? 4403 : 'welcome']
  }
  if (message.binary) return [4400]
  const bytes = typeof message.data === 'string' ? Buffer.from(message.data) : message.data
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return [1007]
  }
  // Any frame but a hello is refused; a hello is judged by its JSON: malformed, other version, or fine.
  return text.startsWith('H') ? ['welcome', 4400, 4426] : [4400]
}

async function checkCase (first: FirstFrame, payloads: string[]): Promise<void> {
  const peer = await openPeer(target.server.url)
  let sessionId: string | undefined
  try {
    const message = firstMessage(first)
    const allowed = allowedOutcomes(message, first)
    peer.sendRaw(message.data as Buffer, message.binary)
    await waitFor(() => peer.received.length > 0 || peer.socket.readyState === WebSocket.CLOSED, 'a welcome or a close', 5000)
    const context = `first frame ${JSON.stringify(message.binary ? `<binary ${(message.data as Buffer).toString('hex')}>` : String(message.data))}`
    if (peer.received.length === 0) {
      const { code, reason } = await peer.closed()
      assert.ok(allowed.includes(code), `closed with ${code} (${reason}), expected one of ${allowed.join(', ')}; ${context}`)
      return
    }
    const reply = await peer.next()
    assert.ok(!(reply.frame instanceof Error) && reply.frame.type === 'W', `expected a welcome, got ${String(reply.raw)}; ${context}`)
    assert.ok(allowed.includes('welcome'), `welcomed, expected a close with ${allowed.join(', ')}; ${context}`)
    assert.equal(reply.frame.resumed, false, `a new session, never a resume; ${context}`)
    assert.notEqual(reply.frame.sessionId, beside.sessionId, `not the session beside; ${context}`)
    sessionId = reply.frame.sessionId
    // The new session carries data once, in order, then closes normally.
    payloads.forEach((payload, i) => peer.sendRaw(`D${i + 1}:${payload}`))
    const echoes = payloads.map((payload, i) => `D${i + 1}:${payload}`)
    await waitFor(() => echoes.every((echo) => peer.received.some((r) => r.raw === echo)) || peer.socket.readyState !== WebSocket.OPEN, 'the data echoed', 5000)
    assert.deepEqual(target.deliveredBySession.get(sessionId), payloads, `data delivered once, in order; ${context}`)
    peer.socket.close(1000)
    assert.equal((await peer.closed(5000)).code, 1000)
  } finally {
    peer.terminate()
  }
  await target.checkAftermath()
  if (sessionId !== undefined) assert.deepEqual(target.takeClose(sessionId), { code: 1000, cause: 'client' })
}

test('random first frames get a new session or the documented close code, and never touch another session', async (t) => {
  const parameters = fuzzParameters<[FirstFrame, string[]]>(DEFAULT_RUNS)
  t.diagnostic(replayHint(parameters))
  const payloads = fc.array(fc.string({ unit: 'grapheme', maxLength: 10 }), { maxLength: 3 })
  await fc.assert(fc.asyncProperty(firstFrame, payloads, (first, data) => checkCase(first, data)), parameters)
})
