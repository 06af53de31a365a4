import WebSocket from 'ws'
import { ECHO_PATH } from '../../lib/target-protocol.js'
import type { EchoDriver } from './driver.js'

/**
 * Driver for plain WebSocket targets with a bare `ws` client in its default configuration, as an
 * application would write the echo: `send()` a string per message, and every reply decoded to
 * the string it carries (what the reliable client hands its application). It is the yardstick
 * of the reliable client's own cost (issue 12: at most 1.3x its CPU per round trip).
 */
export const wsClientDriver: EchoDriver = async (port, events) => {
  const socket = new WebSocket(`ws://127.0.0.1:${port}${ECHO_PATH}`)
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      socket.off('error', reject)
      resolve()
    })
    socket.once('error', reject)
  })
  socket.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) data.toString()
    events.reply(1)
  })
  socket.on('error', () => {})
  socket.once('close', () => events.close())
  return {
    send (payload, count) {
      for (let i = 0; i < count; i++) socket.send(payload)
    },
    close () {
      socket.terminate()
    }
  }
}
