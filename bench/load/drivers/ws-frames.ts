import { ECHO_PATH } from '../../lib/target-protocol.js'
import { encodeClientFrame, FrameCounter, Opcode, repeatFrame } from '../frames/frame-codec.js'
import { openUpgradedSocket } from '../frames/upgrade.js'
import type { EchoDriver } from './driver.js'

function ignore (): void {}

/**
 * Driver for WebSocket echo targets (raw ws, @fastify/websocket, the plugin in plain mode). It
 * writes prebuilt text frames and counts reply frames without decoding them, so one load core
 * can drive a server several times faster than a `ws` client could: the figures then measure
 * the server, not the client.
 */
export const wsFramesDriver: EchoDriver = async (port, events) => {
  const { socket, head } = await openUpgradedSocket(port, ECHO_PATH)
  const counter = new FrameCounter(events.reply, (frame) => { socket.write(frame) })
  socket.on('data', (chunk: Buffer) => counter.push(chunk))
  socket.once('close', events.close)
  socket.on('error', ignore)
  if (head.length > 0) counter.push(head)

  let payloadOf: string | undefined
  let frameLength = 0
  let burst: Buffer = Buffer.alloc(0)
  return {
    send (payload, count) {
      if (payload !== payloadOf || burst.length < frameLength * count) {
        const frame = encodeClientFrame(Opcode.TEXT, Buffer.from(payload))
        payloadOf = payload
        frameLength = frame.length
        burst = repeatFrame(frame, Math.max(count, burst.length / frameLength))
      }
      socket.write(burst.subarray(0, frameLength * count))
    },
    close () {
      socket.destroy()
    }
  }
}
