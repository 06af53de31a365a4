import type { WebSocket } from 'ws'
import type { Payload } from '../protocol/frames.js'
import { transportOf } from '../write-batcher.js'

/**
 * Text payloads from this many UTF-16 units on are written as header and payload (below, joining
 * them costs less than a second write).
 */
export const SPLIT_WRITE_MIN_LENGTH = 1024

type SenderState = { _sender?: { _state?: number } }

/**
 * Put one sequenced frame on a `ws` socket. A text frame is `header + payload`, which V8 keeps as
 * a rope of the two strings; `socket.send()` would first flatten it into one new string, a copy of
 * the whole payload made only to be encoded once more (at 4 KiB, half the server's garbage and
 * most of its GC time, issue 12). A long text payload is therefore written here as the WebSocket
 * frame head with the ASCII header in one small buffer, then the payload text, which the socket
 * encodes to UTF-8 once: the bytes on the wire are the ones `ws` would send. `ws` writes each
 * frame synchronously and whole, so writes between its writes fall on frame boundaries; anything
 * else (a compressing or blob-reading `ws` sender that queues, binary frames, short text) goes
 * through `socket.send()`.
 * @param frame - the encoded frame, `header + payload` for text
 * @param header - the frame's ASCII header (`dataFrameHeader()`)
 * @param wireSize - the frame's size in UTF-8 bytes
 */
export function sendDataFrame (socket: WebSocket, frame: Payload, header: string, payload: Payload, wireSize: number): void {
  const transport = transportOf(socket)
  if (typeof payload !== 'string' || payload.length < SPLIT_WRITE_MIN_LENGTH || transport === undefined ||
    (socket as unknown as SenderState)._sender?._state !== 0) {
    socket.send(frame)
    return
  }
  const lengthBytes = wireSize < 126 ? 0 : wireSize < 65536 ? 2 : 8
  const headBytes = 2 + lengthBytes
  const head = Buffer.allocUnsafe(headBytes + header.length)
  head[0] = 0x81 // FIN, text (RFC 6455 5.2); server frames are not masked
  if (lengthBytes === 0) {
    head[1] = wireSize
  } else if (lengthBytes === 2) {
    head[1] = 126
    head.writeUInt16BE(wireSize, 2)
  } else {
    head[1] = 127
    head.writeUInt32BE(Math.floor(wireSize / 0x100000000), 2)
    head.writeUInt32BE(wireSize >>> 0, 6)
  }
  head.write(header, headBytes, 'latin1')
  transport.write(head)
  transport.write(payload, 'utf8')
}
