import { ECHO_PATH } from '../../lib/target-protocol.js'
import { loadCompiledClient, loadCompiledNodeClient } from '../compiled-client.js'
import type { EchoDriver } from './driver.js'

/**
 * Driver for the reliable target with the package's own `ReliableClient` (compiled, over
 * `BatchingWebSocket` from `fastify-reliable-ws/client/node`, as docs/CLIENT.md advises on
 * Node), as a Node application runs it: `send()` per message, one `message` event per echo. The
 * send promises (settled by the server's acks) are not awaited, as an application that does not
 * need them would do. The client never reconnects here: a lost connection is a dropped connection.
 */
export const reliableClientDriver: EchoDriver = async (port, events) => {
  const { ReliableClient } = await loadCompiledClient()
  const { BatchingWebSocket } = await loadCompiledNodeClient()
  const client = new ReliableClient(`ws://127.0.0.1:${port}${ECHO_PATH}`, { WebSocket: BatchingWebSocket, maxAttempts: 0 })
  await new Promise<void>((resolve, reject) => {
    const stopWaiting = client.once('end', (info) => reject(info.error ?? new Error(`the client ended (${info.code})`)))
    client.once('open', () => {
      stopWaiting()
      resolve()
    })
  })
  client.on('message', () => events.reply(1))
  // A transient connection error is followed by `end` (maxAttempts 0); that is the close.
  client.on('error', () => {})
  client.once('end', () => events.close())
  return {
    send (payload, count) {
      for (let i = 0; i < count; i++) void client.send(payload)
    },
    close () {
      void client.close()
    }
  }
}
