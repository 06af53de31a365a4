/**
 * A reference model of what a server must do with a stream of client bytes (RFC 6455 section 5,
 * plus `maxPayload`), written from the RFC and independent of `ws`: the fuzzer compares the real
 * server against it. Where the RFC lets a server choose, the model states the choice the docs make:
 *
 * - a text message is checked for UTF-8 once complete (RFC 6455 section 8.1 allows failing earlier);
 * - a length written in a longer form than needed is accepted (section 5.2 says "MUST" for the
 *   sender but names no failure for the receiver);
 * - close codes accepted from a peer: 1000-1003, 1007-1014 and 3000-4999 (section 7.4, with the
 *   IANA registry's 1012-1014);
 * - a message of more than 16,384 frames is refused with 1008 (`ws`'s `maxFragments`: without a
 *   bound, empty fragments would grow the server's fragment list for free).
 */
import { Opcode } from './raw-websocket.js'

/** What the server should answer to the bytes fed so far. */
export interface ExpectedReplies {
  /** Echoed messages, in order. */
  messages: Array<{ binary: boolean, payload: Buffer }>
  /** Pong payloads, in order. */
  pongs: Buffer[]
  /** The code of the server's close frame (1005: a close frame without a code); undefined while open. */
  closeCode: number | undefined
  /** Why the model closed, for failure messages. */
  closeWhy: string | undefined
  /** Who started the close: the server (a broken rule) or the client (the server echoes its close). */
  closedBy: 'server' | 'client' | undefined
}

const MAX_SAFE_HIGH_WORD = 2 ** 21 - 1
/** Most frames in one message. */
export const MAX_FRAGMENTS = 16_384
const utf8 = new TextDecoder('utf-8', { fatal: true })

function isUtf8 (bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes)
    return true
  } catch {
    return false
  }
}

function isAcceptableCloseCode (code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
}

/** Feeds on client bytes (any split) and tracks what an echo server must reply. */
export class Rfc6455Model {
  readonly expected: ExpectedReplies = { messages: [], pongs: [], closeCode: undefined, closeWhy: undefined, closedBy: undefined }
  #buffer = Buffer.alloc(0)
  /** Opcode of the fragmented message in progress (0: none). */
  #fragmented = 0
  #fragments: Buffer[] = []
  #messageLength = 0
  #frameCount = 0

  constructor (readonly maxPayload: number) {}

  get closed (): boolean {
    return this.expected.closeCode !== undefined
  }

  /** Bytes buffered that do not yet make a complete frame: the server is waiting for more. */
  get incomplete (): boolean {
    return !this.closed && this.#buffer.length > 0
  }

  /** A fragmented message is in progress. */
  get midMessage (): boolean {
    return this.#fragmented !== 0
  }

  feed (bytes: Uint8Array): void {
    if (this.closed) return
    this.#buffer = Buffer.concat([this.#buffer, bytes])
    while (!this.closed && this.#step());
  }

  #close (code: number, why: string, by: 'server' | 'client' = 'server'): false {
    this.expected.closeCode = code
    this.expected.closeWhy = why
    this.expected.closedBy = by
    this.#buffer = Buffer.alloc(0)
    return false
  }

  /** Consume one frame if complete; false when more bytes are needed or the connection closed. */
  #step (): boolean {
    const buffer = this.#buffer
    if (buffer.length < 2) return false
    const fin = (buffer[0] & 0x80) !== 0
    const rsv = (buffer[0] >> 4) & 7
    const opcode = buffer[0] & 0x0f
    const masked = (buffer[1] & 0x80) !== 0
    const lengthField = buffer[1] & 0x7f
    const isControl = opcode >= 0x8
    // Section 5.2: no extension was negotiated, so every RSV bit must be 0.
    if (rsv !== 0) return this.#close(1002, 'RSV bit set without an extension')
    if (opcode === Opcode.CONTINUATION && this.#fragmented === 0) return this.#close(1002, 'continuation without a message')
    if ((opcode === Opcode.TEXT || opcode === Opcode.BINARY) && this.#fragmented !== 0) return this.#close(1002, 'new message inside a fragmented one')
    if (opcode > Opcode.BINARY && opcode < Opcode.CLOSE) return this.#close(1002, `reserved data opcode ${opcode}`)
    if (opcode > Opcode.PONG) return this.#close(1002, `reserved control opcode ${opcode}`)
    // Section 5.5: control frames are never fragmented and carry at most 125 bytes.
    if (isControl && !fin) return this.#close(1002, 'fragmented control frame')
    if (isControl && lengthField > 125) return this.#close(1002, 'control frame over 125 bytes')
    if (opcode === Opcode.CLOSE && lengthField === 1) return this.#close(1002, 'close frame with a 1-byte body')
    // Section 5.1: a server closes on an unmasked client frame.
    if (!masked) return this.#close(1002, 'unmasked client frame')
    let offset = 2
    let length = lengthField
    if (lengthField === 126) {
      if (buffer.length < 4) return false
      length = buffer.readUInt16BE(2)
      offset = 4
    } else if (lengthField === 127) {
      if (buffer.length < 10) return false
      const high = buffer.readUInt32BE(2)
      if (high > MAX_SAFE_HIGH_WORD) return this.#close(1009, 'length above 2^53 - 1')
      length = high * 2 ** 32 + buffer.readUInt32BE(6)
      offset = 10
    }
    if (!isControl && this.#messageLength + length > this.maxPayload) return this.#close(1009, 'message above maxPayload')
    if (buffer.length < offset + 4 + length) return false
    const mask = buffer.subarray(offset, offset + 4)
    const payload = Buffer.from(buffer.subarray(offset + 4, offset + 4 + length))
    for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3]
    this.#buffer = buffer.subarray(offset + 4 + length)
    if (isControl) return this.#control(opcode, payload)
    return this.#data(opcode, fin, payload)
  }

  #control (opcode: number, payload: Buffer): boolean {
    if (opcode === Opcode.PING) {
      this.expected.pongs.push(payload)
      return true
    }
    if (opcode === Opcode.PONG) return true
    if (payload.length === 0) return this.#close(1005, 'echo of a close without a code', 'client')
    const code = payload.readUInt16BE(0)
    if (!isAcceptableCloseCode(code)) return this.#close(1002, `invalid close code ${code}`)
    if (!isUtf8(payload.subarray(2))) return this.#close(1007, 'close reason not UTF-8')
    return this.#close(code, 'echo of the client\'s close', 'client')
  }

  #data (opcode: number, fin: boolean, payload: Buffer): boolean {
    const messageOpcode = opcode === Opcode.CONTINUATION ? this.#fragmented : opcode
    if (++this.#frameCount > MAX_FRAGMENTS) return this.#close(1008, `more than ${MAX_FRAGMENTS} frames in a message`)
    this.#fragments.push(payload)
    this.#messageLength += payload.length
    if (!fin) {
      this.#fragmented = messageOpcode
      return true
    }
    const message = Buffer.concat(this.#fragments)
    this.#fragments = []
    this.#messageLength = 0
    this.#frameCount = 0
    this.#fragmented = 0
    if (messageOpcode === Opcode.TEXT && !isUtf8(message)) return this.#close(1007, 'text message not UTF-8')
    this.expected.messages.push({ binary: messageOpcode === Opcode.BINARY, payload: message })
    return true
  }
}
