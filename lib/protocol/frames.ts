/**
 * Frames of the reliable-mode wire protocol: types, encoders and one strict decoder
 * (docs/PROTOCOL.md, "Frames").
 *
 * Data frames are the hot path: `D<seq>:<payload>` with an ASCII header, no JSON. A text payload
 * travels in a text frame (the header is part of the string), a binary payload in a binary frame
 * (the header is ASCII bytes before the payload bytes). Decoding takes one `slice` of a text frame
 * and a `subarray` view of a binary one, never a copy.
 *
 * This module must stay free of Node-only imports: the browser client bundles it.
 */
import { CloseCode } from './close-codes.js'
import { ProtocolError } from './protocol-error.js'
import { PING_TEXT, PONG_TEXT, parsePing, parsePong } from './app-ping.js'
import { parseHello, parseWelcome, type Hello, type Welcome } from './handshake.js'

/** The type of each frame: the first character of a data, ack, hello or welcome frame. */
export const FrameType = {
  /** Data (both directions): `D<seq>:<payload>`. */
  DATA: 'D',
  /** A request that the peer answers with a response or an error response: `Q<seq>:<payload>`. */
  REQUEST: 'Q',
  /** A response to the peer's request `<ref>`: `R<seq>,<ref>:<payload>`. */
  RESPONSE: 'R',
  /** The peer's request `<ref>` failed; the payload is a reason text: `E<seq>,<ref>:<reason>`. */
  ERROR: 'E',
  /** Cumulative acknowledgement of every data frame up to `<seq>`: `A<seq>`. */
  ACK: 'A',
  /** First client frame: `H{json}`. */
  HELLO: 'H',
  /** First server frame: `W{json}`. */
  WELCOME: 'W',
  /** Application-level ping: `frws:ping[:<token>]`. */
  PING: 'ping',
  /** Answer to a ping: `frws:pong[:<token>]`. */
  PONG: 'pong'
} as const

/** One of the values of {@link FrameType}. */
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType]

/** The types of the sequenced frames, which share one seq space per direction. */
export type DataFrameType = 'D' | 'Q' | 'R' | 'E'

/** An application payload: a string travels in a text frame, bytes in a binary frame. */
export type Payload = string | Uint8Array

/** A sequenced frame: data, request, response or error response. */
export interface DataFrame {
  type: DataFrameType
  /** Position of this message in its direction, from 1. */
  seq: number
  /** For `R` and `E`, the seq of the request (in the other direction) being answered; 0 otherwise. */
  ref: number
  /** The payload, a view into the received frame (never copied). Always a string for `E`. */
  payload: Payload
}

/** A cumulative acknowledgement. */
export interface AckFrame {
  type: 'A'
  /** Every data frame with a seq at or below this one was received and delivered. */
  seq: number
}

/** A decoded hello frame. */
export interface HelloFrame extends Hello {
  type: 'H'
}

/** A decoded welcome frame. */
export interface WelcomeFrame extends Welcome {
  type: 'W'
}

/** A decoded ping or pong frame. */
export interface PingPongFrame {
  type: 'ping' | 'pong'
  /** The token, `''` when there is none. */
  token: string
}

/** Any decoded frame. */
export type Frame = DataFrame | AckFrame | HelloFrame | WelcomeFrame | PingPongFrame

/** Options of {@link decodeFrame}. */
export interface DecodeOptions {
  /**
   * Largest accepted frame in bytes, header included; a larger one throws a 1009 `ProtocolError`.
   * The server leaves this to `ws`'s `maxPayload`; a browser client, which cannot limit frames, sets it.
   * @default Infinity
   */
  maxPayload?: number
  /**
   * Who sent the frame. When given, a frame the sender may not send (a welcome from a client, a
   * hello from a server) throws a 4400 `ProtocolError`.
   */
  sender?: 'client' | 'server'
}

/** Largest seq (and ack, and ref): 2^53 - 1. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER

const MAX_SEQ_DIGITS = 16
const CHAR_0 = 0x30
const CHAR_9 = 0x39
const CHAR_COLON = 0x3a
const CHAR_COMMA = 0x2c
const CHAR_A = 0x41
const CHAR_D = 0x44
const CHAR_E = 0x45
const CHAR_H = 0x48
const CHAR_Q = 0x51
const CHAR_R = 0x52
const CHAR_W = 0x57
const CHAR_F = 0x66

const FRAME_NAMES: Record<number, string> = {
  [CHAR_D]: 'data',
  [CHAR_Q]: 'request',
  [CHAR_R]: 'response',
  [CHAR_E]: 'error response',
  [CHAR_A]: 'ack',
  [CHAR_H]: 'hello',
  [CHAR_W]: 'welcome'
}

const FRAME_TYPES: Record<number, DataFrameType> = { [CHAR_D]: 'D', [CHAR_Q]: 'Q', [CHAR_R]: 'R', [CHAR_E]: 'E' }

// Native encoding counts bytes about 50x faster than a loop over the code units at 4 KiB (the
// client counts every payload it sends); TextEncoder exists in every browser and in Node.
const utf8Encoder = new TextEncoder()
/** Code units counted per `encodeInto` call; at most 3 bytes each fit the scratch buffer. */
const COUNT_CHUNK = 8192
const countScratch = new Uint8Array(COUNT_CHUNK * 3)

/**
 * The number of bytes `text` takes in UTF-8. Lone surrogates count 3 bytes, as they are sent as U+FFFD.
 */
export function utf8Length (text: string): number {
  let bytes = 0
  for (let start = 0; start < text.length;) {
    let end = start + COUNT_CHUNK
    // A surrogate pair split between two chunks would count as two lone surrogates (6 bytes, not 4).
    if (end < text.length && (text.charCodeAt(end - 1) & 0xfc00) === 0xd800) end--
    bytes += utf8Encoder.encodeInto(text.slice(start, end), countScratch).written
    start = end
  }
  return bytes
}

/** The size of an encoded frame in bytes, as it travels in a WebSocket message. */
export function frameSize (frame: Payload): number {
  return typeof frame === 'string' ? utf8Length(frame) : frame.byteLength
}

/** Allocates `size` bytes for an encoded binary frame, e.g. Node's `Buffer.allocUnsafe`. */
export type ByteAllocator = (size: number) => Uint8Array

const POOL_SIZE = 8192
let pool = new Uint8Array(POOL_SIZE)
let poolOffset = 0

/**
 * The default {@link ByteAllocator}: small frames are carved out of shared 8 KiB slabs, as Node's
 * `Buffer.allocUnsafe` does, because a separate `ArrayBuffer` per frame costs about 1 µs. A slab
 * stays in memory while any frame carved from it is referenced.
 */
export function allocateFrameBytes (size: number): Uint8Array {
  if (size > POOL_SIZE >>> 2) return new Uint8Array(size)
  if (poolOffset + size > POOL_SIZE) {
    pool = new Uint8Array(POOL_SIZE)
    poolOffset = 0
  }
  const bytes = pool.subarray(poolOffset, poolOffset + size)
  // Keep views 8-byte aligned so later typed-array views over them stay possible.
  poolOffset = (poolOffset + size + 7) & ~7
  return bytes
}

function assertSeq (value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`${name} must be a positive safe integer`)
}

/**
 * The ASCII header of a sequenced frame, everything before the payload: `D<seq>:`, `Q<seq>:`,
 * `R<seq>,<ref>:` or `E<seq>,<ref>:`. A text frame is this header followed by the payload text.
 * @param ref - seq of the request answered by an `R` or `E` frame; ignored (pass 0) for `D` and `Q`
 */
export function dataFrameHeader (type: DataFrameType, seq: number, ref: number): string {
  assertSeq(seq, 'seq')
  if (type !== 'R' && type !== 'E') return type + seq + ':'
  assertSeq(ref, 'ref')
  return type + seq + ',' + ref + ':'
}

/**
 * Encode a sequenced frame. A string payload gives a text frame, bytes give a binary frame.
 * @param ref - seq of the request answered by an `R` or `E` frame; ignored (pass 0) for `D` and `Q`
 * @param allocate - where the bytes of a binary frame come from; the server passes `Buffer.allocUnsafe`
 *   so `ws` sends the result without wrapping it
 */
export function encodeDataFrame (
  type: DataFrameType, seq: number, ref: number, payload: Payload, allocate: ByteAllocator = allocateFrameBytes
): Payload {
  const header = dataFrameHeader(type, seq, ref)
  if (typeof payload === 'string') return header + payload
  if (type === 'E') throw new TypeError('an error response carries a text reason')
  const headerLength = header.length
  const frame = allocate(headerLength + payload.byteLength)
  for (let i = 0; i < headerLength; i++) frame[i] = header.charCodeAt(i)
  frame.set(payload, headerLength)
  return frame
}

/** Encode a data frame: `D<seq>:<payload>`. */
export function encodeData (seq: number, payload: Payload): Payload {
  return encodeDataFrame('D', seq, 0, payload)
}

/** Encode a request: `Q<seq>:<payload>`. Its seq identifies it in the answer. */
export function encodeRequest (seq: number, payload: Payload): Payload {
  return encodeDataFrame('Q', seq, 0, payload)
}

/** Encode the response to the peer's request `ref`: `R<seq>,<ref>:<payload>`. */
export function encodeResponse (seq: number, ref: number, payload: Payload): Payload {
  return encodeDataFrame('R', seq, ref, payload)
}

/** Encode an error response to the peer's request `ref`: `E<seq>,<ref>:<reason>`. */
export function encodeErrorResponse (seq: number, ref: number, reason: string): string {
  return encodeDataFrame('E', seq, ref, reason) as string
}

/** Encode a cumulative ack of every data frame up to `seq`: `A<seq>`. */
export function encodeAck (seq: number): string {
  assertSeq(seq, 'ack seq')
  return 'A' + seq
}

function bad (message: string): ProtocolError {
  return new ProtocolError(CloseCode.BAD_MESSAGE, message)
}

function describe (code: number): string {
  return code > 0x20 && code < 0x7f ? `'${String.fromCharCode(code)}'` : `0x${code.toString(16).padStart(2, '0')}`
}

// Where the last readSeq call stopped; a module variable spares an allocation per frame.
let seqEnd = 0

// Text and bytes get separate readers so each stays monomorphic on the hot path.
function readSeqText (frame: string, start: number, code: number, isRef: boolean): number {
  const length = frame.length
  let value = 0
  let i = start
  for (; i < length; i++) {
    const c = frame.charCodeAt(i)
    if (c < CHAR_0 || c > CHAR_9) break
    value = value * 10 + (c - CHAR_0)
  }
  checkSeq(i - start, frame.charCodeAt(start), value, code, isRef)
  seqEnd = i
  return value
}

function readSeqBytes (frame: Uint8Array, start: number, code: number, isRef: boolean): number {
  const length = frame.length
  let value = 0
  let i = start
  for (; i < length; i++) {
    const c = frame[i]
    if (c < CHAR_0 || c > CHAR_9) break
    value = value * 10 + (c - CHAR_0)
  }
  checkSeq(i - start, frame[start], value, code, isRef)
  seqEnd = i
  return value
}

function checkSeq (digits: number, first: number, value: number, code: number, isRef: boolean): void {
  if (digits !== 0 && first !== CHAR_0 && digits <= MAX_SEQ_DIGITS && value <= MAX_SEQ) return
  // The message is built only here so that valid frames allocate no strings.
  const field = `${FRAME_NAMES[code]} frame ${isRef ? 'ref' : 'seq'}`
  if (digits === 0 || first === CHAR_0) throw bad(`${field} must be a positive integer without leading zeros`)
  throw bad(`${field} must not exceed 2^53-1`)
}

function hasRef (code: number): boolean {
  return code === CHAR_R || code === CHAR_E
}

function decodeSequencedText (frame: string, code: number): DataFrame {
  const seq = readSeqText(frame, 1, code, false)
  let ref = 0
  if (hasRef(code)) {
    if (frame.charCodeAt(seqEnd) !== CHAR_COMMA) throw bad(`${FRAME_NAMES[code]} frame seq must be followed by ',<ref>'`)
    ref = readSeqText(frame, seqEnd + 1, code, true)
  }
  if (frame.charCodeAt(seqEnd) !== CHAR_COLON) throw bad(`${FRAME_NAMES[code]} frame header must end with ':'`)
  return { type: FRAME_TYPES[code], seq, ref, payload: frame.slice(seqEnd + 1) }
}

function decodeSequencedBytes (frame: Uint8Array, code: number): DataFrame {
  const seq = readSeqBytes(frame, 1, code, false)
  let ref = 0
  if (hasRef(code)) {
    if (frame[seqEnd] !== CHAR_COMMA) throw bad(`${FRAME_NAMES[code]} frame seq must be followed by ',<ref>'`)
    ref = readSeqBytes(frame, seqEnd + 1, code, true)
  }
  if (frame[seqEnd] !== CHAR_COLON) throw bad(`${FRAME_NAMES[code]} frame header must end with ':'`)
  return { type: FRAME_TYPES[code], seq, ref, payload: frame.subarray(seqEnd + 1) }
}

function checkSize (frame: string | Uint8Array, maxPayload: number): void {
  if (maxPayload === Infinity) return
  // A UTF-16 code unit takes 1 to 3 bytes, so the exact count is needed only in between.
  const size = typeof frame !== 'string'
    ? frame.byteLength
    : frame.length > maxPayload ? frame.length : frame.length * 3 <= maxPayload ? 0 : utf8Length(frame)
  if (size > maxPayload) throw new ProtocolError(CloseCode.MESSAGE_TOO_BIG, `frame exceeds maxPayload of ${maxPayload} bytes`)
}

function decodeText (frame: string, sender: DecodeOptions['sender']): Frame {
  const code = frame.charCodeAt(0)
  switch (code) {
    case CHAR_D:
    case CHAR_Q:
    case CHAR_R:
    case CHAR_E:
      return decodeSequencedText(frame, code)
    case CHAR_A: {
      const seq = readSeqText(frame, 1, code, false)
      if (seqEnd !== frame.length) throw bad('ack frame must be \'A\' followed by the seq only')
      return { type: 'A', seq }
    }
    case CHAR_H:
      if (sender === 'server') throw bad('hello frame is sent by the client only')
      return { type: 'H', ...parseHello(frame) }
    case CHAR_W:
      if (sender === 'client') throw bad('welcome frame is sent by the server only')
      return { type: 'W', ...parseWelcome(frame) }
    case CHAR_F: {
      const ping = parsePing(frame)
      if (ping !== undefined) return { type: 'ping', token: ping }
      const pong = parsePong(frame)
      if (pong !== undefined) return { type: 'pong', token: pong }
      throw bad(`a frame starting with 'f' must be ${PING_TEXT}[:<token>] or ${PONG_TEXT}[:<token>] with a token of 1 to 64 printable ASCII characters`)
    }
    default:
      throw bad(`unknown frame type ${describe(code)}`)
  }
}

function decodeBinary (frame: Uint8Array): DataFrame {
  const code = frame[0]
  switch (code) {
    case CHAR_D:
    case CHAR_Q:
    case CHAR_R:
      return decodeSequencedBytes(frame, code)
    case CHAR_E:
    case CHAR_A:
    case CHAR_H:
    case CHAR_W:
      throw bad(`${FRAME_NAMES[code]} frame must be a text frame`)
    default:
      throw bad(`unknown frame type ${describe(code)} in a binary frame`)
  }
}

/**
 * Decode and validate one WebSocket message of a reliable-mode connection. Pass a text message as
 * a string (on the server: `data.toString()` of what `ws` delivered with `isBinary` false) and a
 * binary message as bytes.
 * @throws {ProtocolError} with the close code from docs/PROTOCOL.md: 4400 for a malformed frame,
 * 4426 for an unsupported version in a hello or welcome, 1009 for an oversized frame
 */
export function decodeFrame (frame: Payload, options?: DecodeOptions): Frame {
  if (frame.length === 0) throw bad('empty frame')
  if (options?.maxPayload !== undefined) checkSize(frame, options.maxPayload)
  return typeof frame === 'string' ? decodeText(frame, options?.sender) : decodeBinary(frame)
}
