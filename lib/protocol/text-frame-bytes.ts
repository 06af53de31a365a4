import type { Payload } from './frames.js'

/*
 * Text frames held as UTF-8 bytes (server side only: the browser client never imports this module,
 * which keeps its bundle within budget).
 */

/** Marks a {@link TextFrameBytes}; `Symbol.for` so that two copies of this module agree. */
const TEXT_FRAME_BYTES: unique symbol = Symbol.for('fastify-reliable-ws.textFrameBytes') as never

/**
 * An encoded text frame held as its UTF-8 bytes rather than as a string: the server keeps long
 * text frames this way, outside the JavaScript heap, while they wait for their ack (issue 12). It
 * still travels in a text frame; {@link isTextFrame} tells it from a binary frame.
 */
export type TextFrameBytes = Uint8Array & { readonly [TEXT_FRAME_BYTES]: true }

/** Mark `bytes`, the UTF-8 encoding of a text frame, as a {@link TextFrameBytes}. */
export function markTextFrame (bytes: Uint8Array): TextFrameBytes {
  // A plain store: defineProperty took 3 % of the server's CPU at 4 KiB messages.
  ;(bytes as Uint8Array & { [TEXT_FRAME_BYTES]?: true })[TEXT_FRAME_BYTES] = true
  return bytes as TextFrameBytes
}

/** True when `frame` travels in a text frame: a string, or text held as bytes ({@link TextFrameBytes}). */
export function isTextFrame (frame: Payload): boolean {
  return typeof frame === 'string' || (frame as Partial<TextFrameBytes>)[TEXT_FRAME_BYTES] === true
}
