/**
 * With nobody subscribed, the plugin publishes nothing: no message is built for any channel. The
 * same scenario with subscribers proves the count would see the publishes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import diagnosticsChannel from 'node:diagnostics_channel'
import { CHANNEL_NAMES, channels } from '../../lib/metrics/channels.js'
import { SINGLE_ADDRESS_LOAD, buildApp, cleanup, closed, connect, listen, nextMessage, refusedStatus, waitFor } from '../helpers/server.js'
import { dropSession, openRawSession } from '../helpers/raw-session.js'

type Key = keyof typeof channels

/** Count every `publish()` call on the plugin's channels, whether or not anyone listens. */
function countPublishes (): { counts: Map<Key, number>, restore: () => void } {
  const counts = new Map<Key, number>()
  const originals: Array<() => void> = []
  for (const key of Object.keys(channels) as Key[]) {
    const channel = channels[key] as { publish: (message: unknown) => void }
    const hadOwn = Object.hasOwn(channel, 'publish')
    const original = channel.publish
    channel.publish = function (message: unknown) {
      counts.set(key, (counts.get(key) ?? 0) + 1)
      original.call(this, message)
    }
    originals.push(() => {
      if (hadOwn) channel.publish = original
      else delete (channel as { publish?: unknown }).publish
    })
  }
  return { counts, restore: () => { for (const restore of originals) restore() } }
}

/** Plain echo, a 4429, an admission refusal, and a reliable session that drops and resumes. */
async function scenario (): Promise<void> {
  const app = await buildApp({ ...SINGLE_ADDRESS_LOAD, maxConnections: 2 }, (app) => {
    app.wsRoute('/ws', { rateLimit: { messagesPerSecond: 2, burstSeconds: 1 } }, (connection) => {
      connection.on('message', (data) => { void connection.send(data) })
    })
    app.wsRoute('/r', { reliable: true }, (connection) => { void connection.send('hi') })
  })
  try {
    const url = await listen(app)
    const plain = await connect(`${url}/ws`)
    plain.send('one')
    await nextMessage(plain)
    const session = await openRawSession(`${url}/r`)
    await session.waitFrames(1)
    assert.equal(await refusedStatus(`${url}/ws`), 503)
    for (let i = 0; i < 5; i++) plain.send('flood')
    assert.equal((await closed(plain)).code, 4429)
    await dropSession(session)
    await waitFor(() => app.wsConnections.size === 1, 'the plain connection to leave')
    const resumed = await openRawSession(`${url}/r`, session.resumeInfo())
    assert.equal(resumed.welcome.resumed, true)
    resumed.socket.close(1000)
    await waitFor(() => app.wsConnections.size === 0, 'the session to end')
  } finally {
    await cleanup(app)
  }
}

test('nothing is published while no channel has subscribers', async (t) => {
  for (const name of Object.values(CHANNEL_NAMES)) assert.equal(diagnosticsChannel.hasSubscribers(name), false, name)
  const { counts, restore } = countPublishes()
  t.after(restore)
  await scenario()
  assert.deepEqual([...counts], [])
})

test('the same scenario with subscribers publishes on each channel it touches', async (t) => {
  const { counts, restore } = countPublishes()
  t.after(restore)
  const listener = (): void => {}
  for (const name of Object.values(CHANNEL_NAMES)) diagnosticsChannel.subscribe(name, listener)
  t.after(() => { for (const name of Object.values(CHANNEL_NAMES)) diagnosticsChannel.unsubscribe(name, listener) })
  await scenario()
  for (const key of ['connectionOpen', 'connectionClose', 'messageIn', 'messageOut', 'sessionSuspend', 'sessionResume',
    'sessionEnd', 'resumeOutcome', 'limitHit', 'admissionRefused'] as Key[]) {
    assert.ok((counts.get(key) ?? 0) > 0, `${key} was published`)
  }
})
