/**
 * How typed messages become frames and back. Shared by the server and the client: no Node imports.
 */

/** Turns values into frame payloads and back. A string travels as a text frame, bytes as a binary frame. */
export interface MessageCodec {
  /** The payload for `value`; throwing (or returning anything else) makes the value not sendable. */
  encode (value: unknown): string | Uint8Array
  /** The value in `payload`; throwing makes the message invalid. */
  decode (payload: string | Uint8Array): unknown
}

/** The default codec: JSON in text frames. A binary frame is not JSON and fails to decode. */
export const jsonCodec: MessageCodec = {
  encode: (value) => JSON.stringify(value),
  decode (payload) {
    if (typeof payload !== 'string') throw new TypeError('expected a text frame')
    return JSON.parse(payload)
  }
}
