/**
 * The small parts of a reliable session on their own: the server frame encoder, the send promises
 * (timeouts), the outgoing requests (timeouts, take, failAll), the incoming requests (queue, one
 * answer per request, failing listeners) and the payload conversion. Written from the survivors of
 * the mutation runs of lib/reliable (docs/TESTING.md, "Mutation testing").
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { Writable } from 'node:stream'
import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { isTextFrame } from '../../lib/protocol/text-frame-bytes.js'
import { encodeServerFrame, TEXT_AS_BYTES_MIN_LENGTH } from '../../lib/reliable/server-frames.js'
import { noop, rejected, withTimeout } from '../../lib/reliable/send-promises.js'
import { OutgoingRequests } from '../../lib/reliable/outgoing-requests.js'
import { IncomingRequests } from '../../lib/reliable/incoming-requests.js'
import type { RequestHost } from '../../lib/reliable/incoming-requests.js'
import { encodePayload, toPayload } from '../../lib/reliable/session-payloads.js'
import { PENDING_PAUSE_THRESHOLD } from '../../lib/message-queue.js'

const TIMEOUT = { timeout: 20_000 }

/** The timers under test are unref()'d: a ref'd interval keeps the process alive until the test ends. */
function keepAlive (t: { after: (fn: () => void) => void }): void {
  const alive = setInterval(noop, 1000)
  t.after(() => clearInterval(alive))
}

/** Settles to 'pending' when `promise` has not settled by the time a later macrotask runs. */
async function stateOf (promise: Promise<unknown>): Promise<string> {
  const pending = {}
  const winner = await Promise.race([
    promise.then(() => 'fulfilled', () => 'rejected'),
    new Promise((resolve) => setImmediate(() => resolve(pending)))
  ])
  return winner === pending ? 'pending' : winner as string
}

describe('encodeServerFrame', () => {
  test('keeps a text frame shorter than TEXT_AS_BYTES_MIN_LENGTH as a string, and from that length on as marked UTF-8 bytes', () => {
    assert.equal(TEXT_AS_BYTES_MIN_LENGTH, 1024)
    const header = 'D7:'
    const short = 'é'.repeat(TEXT_AS_BYTES_MIN_LENGTH - 1)
    assert.equal(encodeServerFrame(header, short, header.length + Buffer.byteLength(short)), header + short)
    const long = 'é'.repeat(TEXT_AS_BYTES_MIN_LENGTH)
    const size = header.length + Buffer.byteLength(long)
    const frame = encodeServerFrame(header, long, size)
    assert.ok(frame instanceof Uint8Array, 'a long text frame is bytes')
    assert.equal(frame.byteLength, size)
    assert.ok(isTextFrame(frame), 'and travels as text')
    assert.equal(Buffer.from(frame).toString('utf8'), header + long)
  })

  test('copies a binary payload after its header into bytes of their own, not marked as text', () => {
    const header = 'D12:'
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9])
    const payload = backing.subarray(2, 5)
    const frame = encodeServerFrame(header, payload, header.length + payload.byteLength)
    assert.ok(frame instanceof Uint8Array)
    assert.equal(isTextFrame(frame), false)
    assert.deepEqual([...frame], [...Buffer.from(header, 'latin1'), 1, 2, 3])
    assert.notEqual(frame.buffer, backing.buffer)
    assert.equal(frame.byteOffset, 0)
    assert.equal(frame.buffer.byteLength, frame.byteLength, 'an ArrayBuffer of its own, not a slab')
    const short = encodeServerFrame(header, new Uint8Array(0), header.length)
    assert.equal(isTextFrame(short), false, 'even an empty binary payload stays binary')
  })
})

describe('send promises', () => {
  test('rejected() rejects with the error given', async () => {
    const error = new Error('gone')
    await assert.rejects(rejected(error), (caught) => caught === error)
    assert.equal(noop(), undefined)
  })

  test('withTimeout() passes the outcome of a promise that settles first', async () => {
    await withTimeout(Promise.resolve(), 60_000)
    const error = new Error('first')
    await assert.rejects(withTimeout(Promise.reject(error), 60_000), (caught) => caught === error)
  })

  test('withTimeout() rejects with FRWS_ERR_SEND_TIMEOUT naming the timeout when the promise takes longer', TIMEOUT, async (t) => {
    keepAlive(t)
    const never = new Promise<void>(() => {})
    const started = Date.now()
    await assert.rejects(withTimeout(never, 30), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FRWS_ERR_SEND_TIMEOUT')
      assert.equal(error.message, 'The message was not acknowledged within 30 ms')
      return true
    })
    assert.ok(Date.now() - started >= 25, 'not before its timeout')
  })
})

describe('OutgoingRequests', () => {
  test('a request with no response rejects with FRWS_ERR_REQUEST_TIMEOUT after its timeout and stops being counted', TIMEOUT, async (t) => {
    keepAlive(t)
    const requests = new OutgoingRequests()
    const started = Date.now()
    const waiting = requests.open(3, 30)
    assert.equal(requests.size, 1)
    await assert.rejects(waiting, (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FRWS_ERR_REQUEST_TIMEOUT')
      assert.equal(error.message, 'No response within 30 ms')
      return true
    })
    assert.ok(Date.now() - started >= 25, 'not before its timeout')
    assert.equal(requests.size, 0)
    assert.equal(requests.take(3), undefined, 'a timed-out request cannot be taken')
  })

  test('take() hands out the settlers of a waiting request once and stops its timer', TIMEOUT, async (t) => {
    keepAlive(t)
    const requests = new OutgoingRequests()
    const waiting = requests.open(5, 40)
    const other = requests.open(6, 60_000)
    assert.equal(requests.take(4), undefined)
    assert.equal(requests.size, 2)
    const settlers = requests.take(5)
    assert.ok(settlers !== undefined)
    assert.equal(requests.size, 1)
    assert.equal(requests.take(5), undefined, 'only once')
    // Its 40 ms timer is stopped: a timer due later runs first, and the promise is still pending.
    await new Promise((resolve) => setTimeout(resolve, 150))
    assert.equal(await stateOf(waiting), 'pending')
    settlers.resolve('answer')
    assert.equal(await waiting, 'answer')
    requests.take(6)?.reject(new Error('refused'))
    await assert.rejects(other, /refused/)
  })

  test('failAll() rejects every waiting request with the error and forgets them', TIMEOUT, async () => {
    const requests = new OutgoingRequests()
    const first = requests.open(1, 60_000)
    const second = requests.open(2, 60_000)
    const error = new Error('session ended')
    requests.failAll(error)
    assert.equal(requests.size, 0)
    await assert.rejects(first, (caught) => caught === error)
    await assert.rejects(second, (caught) => caught === error)
    assert.equal(requests.take(1), undefined)
  })
})

/** A request host on a real EventEmitter and a real pino logger; records the answers. */
class Host extends EventEmitter implements RequestHost {
  readonly lines: Array<Record<string, unknown>> = []
  readonly answers: Array<[number, unknown]> = []
  readonly sessionTag = 'tag-1'
  readonly log: FastifyBaseLogger

  constructor () {
    super()
    const lines = this.lines
    const stream = new Writable({
      write (chunk: Buffer, _encoding, callback) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
        callback()
      }
    })
    this.log = pino({ level: 'info' }, stream) as unknown as FastifyBaseLogger
  }

  override listeners (event: 'request'): Array<(...args: never[]) => unknown> {
    return super.listeners(event) as Array<(...args: never[]) => unknown>
  }

  answerRequest (seq: number, response: unknown): void {
    this.answers.push([seq, response])
  }
}

type RequestListener = (this: Host, payload: unknown, isBinary: boolean, respond: (response: unknown) => void) => unknown

describe('IncomingRequests', () => {
  test('queues requests while nobody listens, up to the pause threshold, and hands them over in order on flush()', () => {
    const host = new Host()
    const requests = new IncomingRequests(host)
    assert.equal(requests.isQueuing, true)
    assert.equal(requests.holdsReading, false)
    for (let seq = 1; seq < PENDING_PAUSE_THRESHOLD; seq++) {
      assert.equal(requests.receive(seq, `q${seq}`, false), false, `request ${seq} does not pause`)
    }
    assert.equal(requests.holdsReading, false)
    assert.equal(requests.receive(PENDING_PAUSE_THRESHOLD, 'last', true), true, 'the request that fills the queue pauses reading')
    assert.equal(requests.holdsReading, true)
    assert.equal(requests.inFlight, PENDING_PAUSE_THRESHOLD)
    const seen: Array<[unknown, boolean]> = []
    host.on('request', function (this: Host, payload: unknown, isBinary: boolean, respond: (response: unknown) => void) {
      assert.equal(this, host, 'called with the connection as this')
      seen.push([payload, isBinary])
      respond(`answer to ${String(payload)}`)
    } as RequestListener)
    assert.equal(requests.flush(), true)
    assert.equal(requests.flush(), false, 'the queue closes on the first flush')
    assert.equal(requests.isQueuing, false)
    assert.equal(requests.holdsReading, false)
    assert.equal(seen.length, PENDING_PAUSE_THRESHOLD)
    assert.deepEqual(seen[0], ['q1', false])
    assert.deepEqual(seen.at(-1), ['last', true])
    assert.deepEqual(host.answers[0], [1, 'answer to q1'])
    assert.deepEqual(host.answers.at(-1), [PENDING_PAUSE_THRESHOLD, 'answer to last'])
    assert.equal(requests.inFlight, 0)
    assert.equal(requests.receive(999, 'late', false), false, 'after the flush a request goes straight to the listener')
    assert.deepEqual(host.answers.at(-1), [999, 'answer to late'])
  })

  test('a request that arrives while a listener is attached is answered at once, even while the queue is open', () => {
    const host = new Host()
    const requests = new IncomingRequests(host)
    host.on('request', ((payload, _isBinary, respond) => { respond(payload) }) as RequestListener)
    assert.equal(requests.receive(1, 'x', false), false)
    assert.deepEqual(host.answers, [[1, 'x']])
    assert.equal(requests.isQueuing, true, 'the queue is still open')
  })

  test('counts a request until it is answered, and only the first answer counts', () => {
    const host = new Host()
    const requests = new IncomingRequests(host)
    let respondLater: ((response: unknown) => void) | undefined
    host.on('request', ((_payload, _isBinary, respond) => { respondLater = respond }) as RequestListener)
    requests.receive(4, 'p', false)
    assert.equal(requests.inFlight, 1)
    assert.deepEqual(host.answers, [])
    respondLater?.('one')
    respondLater?.('two')
    assert.equal(requests.inFlight, 0)
    assert.deepEqual(host.answers, [[4, 'one']])
  })

  test('a flush with no listener answers each queued request with an error "no request handler"', () => {
    const host = new Host()
    const requests = new IncomingRequests(host)
    requests.receive(1, 'a', false)
    requests.receive(2, 'b', false)
    assert.equal(requests.flush(), true)
    assert.equal(host.answers.length, 2)
    for (const [i, [seq, response]] of host.answers.entries()) {
      assert.equal(seq, i + 1)
      assert.ok(response instanceof Error)
      assert.equal(response.message, 'no request handler')
    }
    assert.equal(requests.inFlight, 0)
  })

  test('a listener that throws or rejects gets its request answered with "internal error", logged at error with the session tag', async () => {
    const host = new Host()
    const requests = new IncomingRequests(host)
    const thrown = new Error('secret detail of a sync failure')
    const rejectedWith = new Error('secret detail of an async failure')
    host.on('request', ((payload) => {
      if (payload === 'sync') throw thrown
      return Promise.reject(rejectedWith)
    }) as RequestListener)
    requests.receive(1, 'sync', false)
    requests.receive(2, 'async', false)
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(host.answers.length, 2)
    for (const [, response] of host.answers) {
      assert.ok(response instanceof Error)
      assert.equal(response.message, 'internal error')
    }
    assert.equal(requests.inFlight, 0)
    const failures = host.lines.filter((line) => line.msg === 'websocket request listener failed')
    assert.equal(failures.length, 2)
    assert.equal(failures[0].level, 50)
    assert.equal(failures[0].session, 'tag-1')
    assert.equal((failures[0].err as { message: string }).message, thrown.message)
    assert.equal((failures[1].err as { message: string }).message, rejectedWith.message)
  })

  test('a listener that returns a value that is not a promise is left alone', () => {
    const host = new Host()
    const requests = new IncomingRequests(host)
    host.on('request', ((_payload, _isBinary, respond) => {
      respond('done')
      return { then: 'not a promise' }
    }) as RequestListener)
    requests.receive(1, 'x', false)
    assert.deepEqual(host.answers, [[1, 'done']])
    assert.equal(host.lines.length, 0)
  })

  test('drop() closes the queue: what waited is never answered', () => {
    const host = new Host()
    const requests = new IncomingRequests(host)
    requests.receive(1, 'a', false)
    requests.drop()
    assert.equal(requests.isQueuing, false)
    assert.equal(requests.flush(), false)
    assert.deepEqual(host.answers, [])
  })
})

describe('toPayload and encodePayload', () => {
  test('take strings and Uint8Arrays as they are, and view other binary data as a Uint8Array over the same bytes', () => {
    const text = 'hello'
    assert.equal(toPayload(text), text)
    const bytes = new Uint8Array([1, 2, 3])
    assert.equal(toPayload(bytes), bytes)
    const buffer = new Uint8Array([4, 5, 6]).buffer
    const fromBuffer = toPayload(buffer)
    assert.ok(fromBuffer instanceof Uint8Array)
    assert.equal(fromBuffer.buffer, buffer)
    assert.deepEqual([...fromBuffer], [4, 5, 6])
    const backing = new ArrayBuffer(8)
    new Uint8Array(backing).set([0, 1, 2, 3, 4, 5, 6, 7])
    const view = new DataView(backing, 2, 3)
    const fromView = toPayload(view)
    assert.ok(fromView instanceof Uint8Array)
    assert.equal(fromView.buffer, backing)
    assert.deepEqual([...fromView], [2, 3, 4])
    const words = new Uint16Array(backing, 4, 2)
    assert.deepEqual([...toPayload(words)], [4, 5, 6, 7])
    assert.deepEqual(encodePayload(undefined, undefined, view), { ok: true, value: fromView })
    assert.deepEqual(encodePayload(undefined, undefined, text), { ok: true, value: text })
  })
})
