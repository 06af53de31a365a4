// Property-based fuzzing of the app-level ping on a plain route with `appPing`: exact pings are
// answered and kept from the application; everything else, near misses included, is a message.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { SINGLE_ADDRESS_LOAD, buildApp, cleanup, listen, openClient, waitFor } from '../helpers/server.js'
import { fuzzParameters, recordProcessFaults, replayHint } from './fuzz-settings.js'
import type { ProcessFaults } from './fuzz-settings.js'

/** CI default; FRWS_FUZZ_RUNS raises it. */
const DEFAULT_RUNS = 200
/** docs/PROTOCOL.md, "ping and pong": no token, or 1 to 64 printable ASCII characters. */
const EXACT_PING = /^frws:ping(?::([\x21-\x7e]{1,64}))?$/

const printable = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c))
/** Texts around the ping form: exact pings, near misses, and anything. */
const message: fc.Arbitrary<{ text: string, binary: boolean }> = fc.oneof({ withCrossShrink: true },
  { weight: 3, arbitrary: fc.string({ unit: printable, minLength: 1, maxLength: 64 }).map((token) => `frws:ping:${token}`) },
  { weight: 1, arbitrary: fc.constantFrom('frws:ping', 'frws:ping:', 'frws:pingx', 'frws:pong', 'frws:pong:1', 'frws:ping:a b', ' frws:ping', 'frws:ping\n', 'FRWS:PING') },
  { weight: 1, arbitrary: fc.string({ unit: printable, minLength: 65, maxLength: 70 }).map((token) => `frws:ping:${token}`) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ unit: printable, maxLength: 10 }), fc.string({ maxLength: 3 })).map(([token, extra]) => `frws:ping:${token}${extra}`) },
  { weight: 2, arbitrary: fc.string({ maxLength: 20 }) }
).chain((text) => fc.record({ text: fc.constant(text), binary: fc.constantFrom(false, true) }))

let app: FastifyInstance
let url: string
let faults: ProcessFaults
const delivered: Array<{ text: string, binary: boolean }> = []

before(async () => {
  faults = recordProcessFaults()
  app = await buildApp(SINGLE_ADDRESS_LOAD, (instance) => {
    instance.wsRoute('/ws', { appPing: true }, (connection) => {
      connection.on('message', (data, isBinary) => {
        delivered.push({ text: data.toString(), binary: isBinary })
        void connection.send(data)
      })
    })
  })
  url = `${await listen(app)}/ws`
})

after(async () => {
  faults.uninstall()
  await cleanup(app)
})

async function checkCase (messages: Array<{ text: string, binary: boolean }>): Promise<void> {
  delivered.length = 0
  const client = await openClient(url)
  try {
    for (const { text, binary } of messages) client.socket.send(Buffer.from(text), { binary })
    // Each message gets exactly one answer: its pong or its echo, in order; the marker proves the last arrived.
    client.socket.send('end of case')
    const expectedReplies = [...messages.map(({ text, binary }) => {
      const ping = binary ? null : EXACT_PING.exec(text)
      return ping === null ? text : `frws:pong${ping[1] === undefined ? '' : ':' + ping[1]}`
    }), 'end of case']
    await waitFor(() => client.messages.length >= expectedReplies.length, `${expectedReplies.length} replies`, 5000)
    assert.deepEqual(client.messages.map(String), expectedReplies, 'a pong for each exact ping, an echo for everything else')
    const expectedDelivered = [...messages.filter(({ text, binary }) => binary || !EXACT_PING.test(text)).map(({ text, binary }) => ({ text, binary })), { text: 'end of case', binary: false }]
    assert.deepEqual(delivered, expectedDelivered, 'exact pings never reach the application; near misses do')
  } finally {
    client.socket.close()
    await client.closed
  }
  await waitFor(() => app.wsConnections.size === 0, 'the connection to leave the registry', 5000)
  assert.deepEqual(faults.faults, [], 'no uncaught exception or unhandled rejection')
}

test('on a plain route with appPing, exact pings get their pong and anything else is a message', async (t) => {
  const parameters = fuzzParameters<[Array<{ text: string, binary: boolean }>]>(DEFAULT_RUNS)
  t.diagnostic(replayHint(parameters))
  await fc.assert(fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 8 }), (messages) => checkCase(messages)), parameters)
})
