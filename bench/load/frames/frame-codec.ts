/** RFC 6455 opcodes the load generator uses. */
export const Opcode = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const

/**
 * Encode one final client frame with an all-zero masking key: the frame is valid (the mask bit
 * is set, RFC 6455 5.3) and the payload goes unchanged, so a frame can be built once and sent
 * many times. The server still unmasks it as usual.
 */
export function encodeClientFrame (opcode: number, payload: Buffer): Buffer {
  const length = payload.length
  const lengthBytes = length < 126 ? 0 : length < 65_536 ? 2 : 8
  const header = Buffer.alloc(2 + lengthBytes + 4)
  header[0] = 0x80 | opcode
  if (lengthBytes === 0) {
    header[1] = 0x80 | length
  } else if (lengthBytes === 2) {
    header[1] = 0x80 | 126
    header.writeUInt16BE(length, 2)
  } else {
    header[1] = 0x80 | 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  return Buffer.concat([header, payload])
}

/** `frame` repeated `count` times in one buffer, to write a burst with one call. */
export function repeatFrame (frame: Buffer, count: number): Buffer {
  const burst = Buffer.allocUnsafe(frame.length * count)
  for (let i = 0; i < count; i++) frame.copy(burst, i * frame.length)
  return burst
}

/**
 * Counts the messages in a stream of server frames without copying or decoding payloads: the
 * load generator only needs to know how many replies arrived. Pings are answered with a pong
 * carrying their payload, as RFC 6455 5.5.2 asks.
 */
export class FrameCounter {
  readonly #onMessages: (count: number) => void
  readonly #sendFrame: (frame: Buffer) => void
  #carry: Buffer | null = null
  #inPayload = false
  #left = 0
  #opcode = 0
  #final = false
  #control: Buffer[] = []

  /** `onMessages` gets the number of complete data messages in each chunk; `sendFrame` writes a pong. */
  constructor (onMessages: (count: number) => void, sendFrame: (frame: Buffer) => void) {
    this.#onMessages = onMessages
    this.#sendFrame = sendFrame
  }

  /** Feed the next chunk read from the socket. */
  push (chunk: Buffer): void {
    let buffer = chunk
    if (this.#carry !== null) {
      buffer = Buffer.concat([this.#carry, chunk])
      this.#carry = null
    }
    let offset = 0
    let messages = 0
    for (;;) {
      if (this.#inPayload) {
        const take = Math.min(this.#left, buffer.length - offset)
        if (this.#opcode >= Opcode.CLOSE && take > 0) this.#control.push(buffer.subarray(offset, offset + take))
        this.#left -= take
        offset += take
        if (this.#left > 0) break
        this.#inPayload = false
        if (this.#opcode < Opcode.CLOSE) {
          if (this.#final) messages++
        } else {
          this.#controlFrameDone()
        }
      }
      const available = buffer.length - offset
      if (available < 2) {
        if (available > 0) this.#carry = Buffer.from(buffer.subarray(offset))
        break
      }
      const second = buffer[offset + 1]
      let length = second & 0x7f
      let headerLength = 2
      if (length === 126) headerLength = 4
      else if (length === 127) headerLength = 10
      if ((second & 0x80) !== 0) headerLength += 4
      if (available < headerLength) {
        this.#carry = Buffer.from(buffer.subarray(offset))
        break
      }
      if (length === 126) length = buffer.readUInt16BE(offset + 2)
      else if (length === 127) length = Number(buffer.readBigUInt64BE(offset + 2))
      this.#opcode = buffer[offset] & 0x0f
      this.#final = (buffer[offset] & 0x80) !== 0
      this.#left = length
      this.#inPayload = true
      offset += headerLength
    }
    if (messages > 0) this.#onMessages(messages)
  }

  #controlFrameDone (): void {
    const payload = Buffer.concat(this.#control)
    this.#control = []
    if (this.#opcode === Opcode.PING) this.#sendFrame(encodeClientFrame(Opcode.PONG, payload))
  }
}
