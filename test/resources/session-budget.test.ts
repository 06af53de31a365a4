// The session budget on a real server in this process: options, the caps on suspended sessions,
// shedding (4507) and the shorter lifetime of sessions that never acknowledged anything.
import { describe, it, mock, test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { CloseCode, errors } from '../../lib/index.js'
import type { CloseInfo, FastifyReliableWsOptions, ReliableConnection, ReliableOptions } from '../../lib/index.js'
import { resolveOptions } from '../../lib/options.js'
import { SESSION_BUDGET_DEFAULTS } from '../../lib/reliable/session-budget-options.js'
import { MESSAGE_OVERHEAD, SESSION_OVERHEAD } from '../../lib/reliable/session-budget.js'
import { closeAction, ReconnectPolicy, TRY_AGAIN_LATER_DELAY } from '../../lib/client/reconnect-policy.js'
import { buildApp, cleanup, listen } from '../helpers/server.js'
import { dropSession, openRawSession } from '../helpers/raw-session.js'
import type { RawSession } from '../helpers/raw-session.js'
import { nextEvent, settle, startClient } from '../helpers/client-peer.js'

interface BudgetApp {
  app: FastifyInstance
  url: string
  /** Every session the handler ran for, in order. */
  sessions: ReliableConnection[]
  /** The close event of each session, by its index in `sessions`. */
  closes: Map<number, CloseInfo>
  /** Log lines at info and above, parsed. */
  logs: Array<Record<string, unknown>>
  /** Resolves with the close event of session `index` (in `sessions`). */
  closed: (index: number) => Promise<CloseInfo>
}

/** A listening app with a reliable route `/r` whose handler sends `?count=` messages of 10 bytes. */
async function startBudgetApp (t: { after: (fn: () => Promise<void>) => void }, plugin: FastifyReliableWsOptions, reliable: ReliableOptions = {}): Promise<BudgetApp> {
  const logs: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk: Buffer, _encoding, done) { logs.push(JSON.parse(chunk.toString())); done() } })
  const sessions: ReliableConnection[] = []
  const closes = new Map<number, CloseInfo>()
  const waiters = new Map<number, (info: CloseInfo) => void>()
  const app = await buildApp(plugin, (app) => {
    app.wsRoute('/r', { reliable: { sessionTimeout: 60_000, ...reliable } }, (connection, request) => {
      const index = sessions.push(connection as ReliableConnection) - 1
      connection.on('close', (info) => { closes.set(index, info); waiters.get(index)?.(info) })
      const count = Number((request.query as { count?: string }).count ?? 0)
      for (let i = 0; i < count; i++) void connection.send(`message ${i}`.padEnd(10, '.'))
      connection.on('message', (data) => { void connection.send(data) })
    })
  }, { logger: { level: 'info', stream } })
  const url = `${await listen(app)}/r`
  t.after(() => cleanup(app))
  const closed = (index: number): Promise<CloseInfo> => {
    const known = closes.get(index)
    if (known !== undefined) return Promise.resolve(known)
    return new Promise((resolve) => waiters.set(index, resolve))
  }
  return { app, url, sessions, closes, logs, closed }
}

async function openAndDrop (url: string, count = 0): Promise<RawSession> {
  const session = await openRawSession(`${url}?count=${count}`)
  await session.waitFrames(count)
  await dropSession(session)
  return session
}

async function waitUntil (condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const until = Date.now() + ms
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function suspendedCount (budget: BudgetApp): number {
  return budget.sessions.filter((s) => !s.isEnded && !s.isAttached).length
}

describe('sessionBudget options', () => {
  test('defaults: 256 MiB in all, 2 MiB per session, 10,000 suspended, 100 per address, 10 s without an ack', () => {
    assert.deepEqual(resolveOptions({}).sessionBudget, {
      maxTotalBytes: 256 * 1024 * 1024, maxSessionBytes: 2 * 1024 * 1024, maxSuspended: 10_000, maxSuspendedPerAddress: 100, unackedSessionTimeout: 10_000
    })
    assert.deepEqual(resolveOptions({}).sessionBudget, SESSION_BUDGET_DEFAULTS)
  })

  const least = SESSION_OVERHEAD + MESSAGE_OVERHEAD + 1
  const invalid: Array<[string, unknown]> = [
    ['sessionBudget', 5],
    ['sessionBudget.maxTotalBytes', least - 1],
    ['sessionBudget.maxTotalBytes', '1'],
    ['sessionBudget.maxSessionBytes', least - 1],
    ['sessionBudget.maxSessionBytes', 1.5],
    ['sessionBudget.maxSuspended', -1],
    ['sessionBudget.maxSuspendedPerAddress', -1],
    ['sessionBudget.unackedSessionTimeout', 0],
    ['sessionBudget.maxSesionBytes', 1]
  ]
  for (const [name, value] of invalid) {
    test(`${name} = ${JSON.stringify(value)} fails at register with FRWS_ERR_OPTION_INVALID naming it`, async () => {
      const key = name.split('.')[1]
      const sessionBudget = key === undefined ? value : { [key]: value }
      await assert.rejects(buildApp({ sessionBudget } as FastifyReliableWsOptions), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'FRWS_ERR_OPTION_INVALID')
        assert.match(error.message, new RegExp(`"${name.replace('.', '\\.')}"`))
        return true
      })
    })
  }

  test('maxSessionBytes above maxTotalBytes is refused', async () => {
    await assert.rejects(buildApp({ sessionBudget: { maxTotalBytes: 1024 * 1024, maxSessionBytes: 2 * 1024 * 1024 } }), /sessionBudget\.maxSessionBytes/)
  })
})

describe('caps on suspended sessions', () => {
  test('maxSuspendedPerAddress: one more suspended session from the address sheds its oldest, whose resume starts afresh', async (t) => {
    const budget = await startBudgetApp(t, { sessionBudget: { maxSuspendedPerAddress: 2 } })
    const first = await openAndDrop(budget.url, 3)
    const second = await openAndDrop(budget.url, 3)
    await waitUntil(() => suspendedCount(budget) === 2, 'two suspended sessions')
    assert.equal(budget.closes.size, 0)
    const third = await openAndDrop(budget.url, 3)
    const shed = await budget.closed(0)
    assert.deepEqual(shed, { code: CloseCode.SESSION_SHED, reason: 'session budget exceeded', cause: 'shed' })
    await waitUntil(() => suspendedCount(budget) === 2, 'two suspended sessions again')
    assert.equal(budget.sessions[1].isEnded, false)

    const line = budget.logs.find((entry) => entry.msg === 'reliable session shed: session budget exceeded')
    assert.ok(line !== undefined, 'the shedding is logged')
    assert.equal(line.limit, 'maxSuspendedPerAddress')
    assert.equal(typeof line.session, 'string')
    assert.ok(!JSON.stringify(budget.logs).includes(first.welcome.sessionId), 'the session id never reaches the log')

    const resumeFirst = await openRawSession(budget.url, first.resumeInfo())
    assert.equal(resumeFirst.welcome.resumed, false)
    const resumeThird = await openRawSession(budget.url, third.resumeInfo())
    assert.equal(resumeThird.welcome.resumed, true)
    await resumeThird.waitFrames(0)
    const resumeSecond = await openRawSession(budget.url, second.resumeInfo())
    assert.equal(resumeSecond.welcome.resumed, true)
    for (const session of [resumeFirst, resumeSecond, resumeThird]) session.socket.terminate()
  })

  test('maxSuspendedPerAddress counts per principal on routes with one: another principal does not shed', async (t) => {
    const budget = await startBudgetApp(t, { sessionBudget: { maxSuspendedPerAddress: 1 } }, {
      principal: (request) => (request.query as { user?: string }).user ?? null
    })
    await openAndDrop(`${budget.url}?user=alice&x=1`)
    await openAndDrop(`${budget.url}?user=bob&x=1`)
    await waitUntil(() => suspendedCount(budget) === 2, 'alice and bob suspended')
    assert.equal(budget.closes.size, 0, 'different principals from one address do not shed each other')
    await openAndDrop(`${budget.url}?user=alice&x=1`)
    assert.equal((await budget.closed(0)).cause, 'shed', "alice's older session was shed")
    assert.equal(budget.sessions[1].isEnded, false, "bob's session stays")
  })

  test('maxSuspended: one more suspended session in all sheds the oldest one', async (t) => {
    const budget = await startBudgetApp(t, { sessionBudget: { maxSuspended: 2 } })
    for (let i = 0; i < 3; i++) await openAndDrop(budget.url)
    assert.equal((await budget.closed(0)).code, CloseCode.SESSION_SHED)
    await waitUntil(() => suspendedCount(budget) === 2, 'two suspended sessions')
    const line = budget.logs.find((entry) => entry.limit === 'maxSuspended')
    assert.ok(line !== undefined, 'the shedding names maxSuspended')
  })
})

describe('charges', () => {
  test('a text frame beyond ASCII is charged two bytes per UTF-16 unit, ASCII text and bytes their length', async (t) => {
    const budget = await startBudgetApp(t, {})
    const client = await openRawSession(budget.url)
    const session = budget.sessions[0]
    void session.send('a'.repeat(100))
    assert.equal(session.heldBytes, SESSION_OVERHEAD + MESSAGE_OVERHEAD + 'D1:'.length + 100)
    void session.send(`${'a'.repeat(99)}€`)
    assert.equal(session.heldBytes, SESSION_OVERHEAD + 2 * MESSAGE_OVERHEAD + 103 + 2 * ('D2:'.length + 100))
    void session.send(Buffer.alloc(100))
    assert.equal(session.heldBytes, SESSION_OVERHEAD + 3 * MESSAGE_OVERHEAD + 103 + 206 + 103)
    await client.waitFrames(3)
    client.socket.send('A3')
    await waitUntil(() => session.unackedCount === 0, 'the ack')
    assert.equal(session.heldBytes, SESSION_OVERHEAD, 'the ack gives the messages back')
    client.socket.terminate()
  })
})

describe('maxSessionBytes', () => {
  test('a send past it ends that session with 4413, logged with the limit; other sessions are untouched', async (t) => {
    const maxSessionBytes = SESSION_OVERHEAD + 5 * (MESSAGE_OVERHEAD + 13)
    const budget = await startBudgetApp(t, { sessionBudget: { maxSessionBytes } })
    const other = await openRawSession(`${budget.url}?count=5`)
    await other.waitFrames(5)
    const over = await openRawSession(`${budget.url}?count=6`)
    assert.equal(await over.closed, CloseCode.BUFFER_OVERFLOW)
    assert.equal(over.received(), 5, 'the five that fit were sent, the sixth ended the session')
    assert.deepEqual(await budget.closed(1), { code: CloseCode.BUFFER_OVERFLOW, reason: 'buffer overflow', cause: 'error' })
    assert.equal(budget.sessions[0].isEnded, false)
    assert.equal(budget.sessions[0].heldBytes, maxSessionBytes, 'the other session holds exactly its cap')
    const line = budget.logs.find((entry) => entry.msg === 'reliable session buffer overflow')
    assert.equal(line?.limit, 'maxSessionBytes')
    other.socket.terminate()
  })
})

describe('maxTotalBytes', () => {
  // Room for two session records and a few messages.
  const maxTotalBytes = 2 * SESSION_OVERHEAD + 8 * (MESSAGE_OVERHEAD + 16)

  test('a send that does not fit sheds the oldest suspended session first', async (t) => {
    const budget = await startBudgetApp(t, { sessionBudget: { maxTotalBytes, maxSessionBytes: maxTotalBytes } })
    await openAndDrop(budget.url, 6)
    const attached = await openRawSession(`${budget.url}?count=0`)
    const held = budget.app.wsConnections.size
    assert.equal(held, 2)
    for (let i = 0; i < 4; i++) void budget.sessions[1].send('0123456789')
    assert.equal((await budget.closed(0)).cause, 'shed')
    assert.equal(budget.sessions[1].isEnded, false)
    await attached.waitFrames(4)
    attached.socket.terminate()
  })

  test('with no suspended session left, the attached session whose send does not fit is closed with 4507 and its send rejects', async (t) => {
    const budget = await startBudgetApp(t, { sessionBudget: { maxTotalBytes, maxSessionBytes: maxTotalBytes } })
    const one = await openRawSession(`${budget.url}?count=0`)
    const two = await openRawSession(`${budget.url}?count=0`)
    const sends = Array.from({ length: 9 }, () => budget.sessions[1].send('0123456789'))
    assert.equal(await two.closed, CloseCode.SESSION_SHED)
    const last = await settle(sends[8])
    assert.equal((last.error as { code?: string }).code, 'FRWS_ERR_SESSION_ENDED')
    assert.match(String((last.error as Error).message), /\(shed\)/)
    assert.deepEqual(await budget.closed(1), { code: CloseCode.SESSION_SHED, reason: 'session budget exceeded', cause: 'shed' })
    assert.equal(budget.sessions[0].isEnded, false, 'the other session is untouched')
    assert.ok(budget.logs.some((entry) => entry.limit === 'maxTotalBytes' && entry.attached === true))
    one.socket.terminate()
  })

  test('a new session that cannot fit even after shedding is refused with 4507 before the welcome', async (t) => {
    const budget = await startBudgetApp(t, { sessionBudget: { maxTotalBytes: SESSION_OVERHEAD + MESSAGE_OVERHEAD + 1, maxSessionBytes: SESSION_OVERHEAD + MESSAGE_OVERHEAD + 1 } })
    const one = await openRawSession(budget.url)
    await assert.rejects(openRawSession(budget.url), /closed with 4507 before the welcome/)
    assert.ok(budget.logs.some((entry) => entry.msg === 'reliable session refused: session budget exceeded'))
    assert.equal(budget.sessions.length, 1)
    one.socket.terminate()
  })

  test('the client of a session closed with 4507 reconnects, learns continuityLost and goes on in a new session', async (t) => {
    const budget = await startBudgetApp(t, { sessionBudget: { maxTotalBytes, maxSessionBytes: maxTotalBytes } })
    const other = await openRawSession(budget.url)
    t.after(() => { other.socket.terminate() })
    const client = startClient(budget.url)
    t.after(() => client.close())
    await nextEvent(client, 'open')
    const lost = nextEvent(client, 'continuityLost', 5000)
    const closes: number[] = []
    client.on('close', (event) => closes.push(event.code))
    // Beside the two session records about 8 messages fit; the sends of one turn are not acked in between.
    const sends = Array.from({ length: 12 }, () => budget.sessions[1].send('0123456789'))
    const [event] = await lost
    assert.equal(closes[0], CloseCode.SESSION_SHED)
    assert.equal(event.previousSessionId, budget.sessions[1].sessionId)
    assert.equal(((await settle(sends[11])).error as { code?: string }).code, 'FRWS_ERR_SESSION_ENDED')
    const reply = nextEvent(client, 'message')
    await client.send('after')
    assert.deepEqual(await reply, ['after', false])
  })
})

describe('unackedSessionTimeout', () => {
  test('real time: a dropped session that never acknowledged expires after it; one that acked keeps sessionTimeout', async (t) => {
    const unackedSessionTimeout = 300
    const budget = await startBudgetApp(t, { sessionBudget: { unackedSessionTimeout } })
    const acking = await openRawSession(`${budget.url}?count=1`)
    await acking.waitFrames(1)
    acking.socket.send('A1')
    await waitUntil(() => budget.sessions[0].unackedCount === 0, 'the ack to arrive')
    const dropped = Date.now()
    await dropSession(acking)
    const silent = await openAndDrop(budget.url, 1)
    const info = await budget.closed(1)
    const waited = Date.now() - dropped
    assert.equal(info.cause, 'expired')
    assert.ok(waited >= unackedSessionTimeout - 5, `expired after ${waited} ms, not before ${unackedSessionTimeout}`)
    assert.equal(budget.sessions[0].isEnded, false, 'the session that acked outlives it')
    const line = budget.logs.find((entry) => entry.msg === 'reliable session expired')
    assert.equal(line?.limit, 'unackedSessionTimeout')
    assert.ok(!JSON.stringify(line).includes(silent.welcome.sessionId), 'the session id never reaches the log')
    assert.equal((await openRawSession(budget.url, silent.resumeInfo())).welcome.resumed, false)
    const back = await openRawSession(budget.url, acking.resumeInfo())
    assert.equal(back.welcome.resumed, true)
    back.socket.terminate()
  })

  test('fake clock: the expiry comes exactly at unackedSessionTimeout, never earlier', async (t) => {
    const budget = await startBudgetApp(t, { sessionBudget: { unackedSessionTimeout: 5000 } })
    const session = await openRawSession(`${budget.url}?count=0`)
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() })
    try {
      await dropSession(session)
      await waitUntil2(() => !budget.sessions[0].isAttached)
      mock.timers.tick(4999)
      assert.equal(budget.sessions[0].isEnded, false)
      mock.timers.tick(1)
      assert.equal(budget.sessions[0].isEnded, true)
      assert.equal(budget.closes.get(0)?.cause, 'expired')
    } finally {
      mock.timers.reset()
    }
  })
})

/** Like waitUntil, on setImmediate: setTimeout is mocked in the fake-clock test. */
async function waitUntil2 (condition: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve))
  assert.ok(condition(), 'condition never held')
}

describe('the client and 4507', () => {
  it('reconnects after 4507 and waits at least TRY_AGAIN_LATER_DELAY, like after 1013', () => {
    assert.equal(closeAction(CloseCode.SESSION_SHED, false), 'reconnect')
    const policy = new ReconnectPolicy({ baseDelay: 10, maxDelay: 60_000, maxAttempts: Infinity, random: () => 0, shouldRetry: () => true }, () => {})
    assert.deepEqual(policy.decide({ code: CloseCode.SESSION_SHED, reason: 'session budget exceeded' }, false), { action: 'reconnect', attempt: 1, delay: TRY_AGAIN_LATER_DELAY })
  })

  it('exports the code and its reason', () => {
    assert.equal(CloseCode.SESSION_SHED, 4507)
    assert.equal(typeof errors.FRWS_ERR_SESSION_ENDED, 'function')
  })
})
