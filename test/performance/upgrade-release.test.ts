import { test } from 'node:test'
import assert from 'node:assert/strict'
import { helloFrame } from '../helpers/protocol-peer.js'
import { buildApp, cleanup, connect, listen, waitFor } from '../helpers/server.js'

test('once upgraded, the TCP socket no longer holds the placeholder HTTP response (nor through it the request and its headers)', async (t) => {
  const seen: Array<{ reliable: boolean, response: unknown }> = []
  const app = await buildApp({}, (instance) => {
    for (const reliable of [false, true]) {
      instance.wsRoute(reliable ? '/reliable' : '/plain', { reliable }, (_connection, request) => {
        // The request object itself is the application's to keep; only the socket's link goes.
        seen.push({ reliable, response: (request.raw.socket as unknown as { _httpMessage: unknown })._httpMessage })
      })
    }
  })
  t.after(() => cleanup(app))
  const url = await listen(app)
  const plain = await connect(`${url}/plain`)
  const reliable = await connect(`${url}/reliable`)
  reliable.send(helloFrame())
  await waitFor(() => seen.length === 2, 'both handlers')
  assert.deepEqual(seen.map(({ response }) => response), [null, null])
  plain.close()
  reliable.close()
})
