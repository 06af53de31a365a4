import { markTextFrame } from '../protocol/text-frame-bytes.js'
import type { Payload } from '../protocol/frames.js'
import type { FrameArena } from './frame-arena.js'

/**
 * Text payloads from this many UTF-16 units on are kept as UTF-8 bytes ({@link encodeServerFrame});
 * shorter ones stay strings, which cost less than a buffer of their own.
 */
export const TEXT_AS_BYTES_MIN_LENGTH = 1024

/** True when {@link encodeServerFrame} keeps `payload`'s frame as bytes rather than as a string. */
export function keptAsBytes (payload: Payload): boolean {
  return typeof payload !== 'string' || payload.length >= TEXT_AS_BYTES_MIN_LENGTH
}

/**
 * Encode a sequenced frame the server sends and keeps until its ack. A long text frame is encoded
 * to UTF-8 once, here, into bytes of its own, and kept as such (`TextFrameBytes`, which the
 * transport sends as a text frame): as a string it lived on the JavaScript heap until the client
 * acknowledged it, which at 4 KiB messages made the garbage collector copy and promote every
 * message in flight (a quarter of the server's CPU, issue 12), and `ws` encoded it again for the
 * write after measuring the string `header + payload` had flattened it into a copy. Binary frames
 * get bytes of their own too (a view of the caller's buffer could pin a larger one). The bytes come
 * from the session's {@link FrameArena} when given: never from a slab shared between sessions,
 * which would stay alive while any frame in it waits for its ack, under the cover of a few bytes
 * charged to one session's budget; the arena charges its own session what it holds.
 * @param header - the frame's ASCII header (`dataFrameHeader()`)
 * @param payload - a text or binary payload (an `E` frame's reason is text)
 * @param wireSize - the frame's size in bytes, header included
 * @param arena - carve the bytes from this arena (`frame-arena.ts`) rather than allocate them
 * @param seq - the frame's seq, for the arena
 */
export function encodeServerFrame (header: string, payload: Payload, wireSize: number, arena?: FrameArena, seq = 0): Payload {
  if (!keptAsBytes(payload)) return header + payload
  const bytes = arena === undefined ? Buffer.allocUnsafeSlow(wireSize) : arena.carve(seq, wireSize)
  bytes.write(header, 0, 'latin1')
  if (typeof payload !== 'string') {
    bytes.set(payload, header.length)
    return bytes
  }
  bytes.write(payload, header.length, 'utf8')
  return markTextFrame(bytes)
}
