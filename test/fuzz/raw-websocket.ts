/**
 * A WebSocket client written by hand over node:net, for fuzzing: it sends whatever bytes it is
 * given (any RFC 6455 frame, valid or not) and parses what the server sends back.
 */
import { randomBytes } from 'node:crypto'
import { connect as netConnect } from 'node:net'
import type { Socket } from 'node:net'
import { withExpiry } from '../helpers/server.js'

/** One client frame, described field by field so that a counterexample reads as a frame. */
export interface ClientFrame {
  fin: boolean
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4). */
  rsv: number
  /** 0..15 */
  opcode: number
  masked: boolean
  /** How the length is written: the shortest form, a longer one, or a 64-bit length above 2^53 - 1. */
  lengthField: 'shortest' | '16-bit' | '64-bit' | 'beyond 2^53'
  /** Added to the real payload length in the header: a lie when not 0 (the bytes that follow are what they are). */
  lengthLie: number
  payload: Uint8Array
}

/** A frame the server sent (servers never mask). */
export interface ServerFrame {
  fin: boolean
  opcode: number
  masked: boolean
  payload: Buffer
}

export const Opcode = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const

const MASK_KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d])

/** The bytes of a client frame, masked with a fixed key when `masked`. */
export function encodeClientFrame (frame: ClientFrame): Buffer {
  const declared = Math.max(0, frame.payload.length + frame.lengthLie)
  const form = frame.lengthField === 'shortest'
    ? (declared < 126 ? '7-bit' : declared < 65536 ? '16-bit' : '64-bit')
    : frame.lengthField
  const header: number[] = [(frame.fin ? 0x80 : 0) | ((frame.rsv & 7) << 4) | (frame.opcode & 0x0f)]
  const maskBit = frame.masked ? 0x80 : 0
  if (form === '7-bit') {
    header.push(maskBit | declared)
  } else if (form === '16-bit') {
    header.push(maskBit | 126, (declared >>> 8) & 0xff, declared & 0xff)
  } else {
    // 'beyond 2^53' sets bit 53 of the length: no such payload can exist (ws answers 1009).
    const high = form === 'beyond 2^53' ? 0x00200000 : Math.floor(declared / 0x100000000)
    const length = Buffer.alloc(8)
    length.writeUInt32BE(high, 0)
    length.writeUInt32BE(declared >>> 0, 4)
    header.push(maskBit | 127, ...length)
  }
  const payload = Buffer.from(frame.payload)
  if (frame.masked) {
    header.push(...MASK_KEY)
    for (let i = 0; i < payload.length; i++) payload[i] ^= MASK_KEY[i & 3]
  }
  return Buffer.concat([Buffer.from(header), payload])
}

/** A masked, final frame with a valid header: how a well-behaved client frames a message. */
export function wellFormed (opcode: number, payload: Uint8Array): Buffer {
  return encodeClientFrame({ fin: true, rsv: 0, opcode, masked: true, lengthField: 'shortest', lengthLie: 0, payload })
}

/** The close code of a received close frame: 1005 when it carries none. */
export function closeCodeOf (frame: ServerFrame): number {
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005
}

/** A hand-rolled WebSocket client after a successful upgrade. */
export interface RawClient {
  readonly socket: Socket
  /** Every frame the server sent after the 101, in order. */
  readonly frames: ServerFrame[]
  /** Bytes the server sent that do not form a complete frame (should stay 0 once the server is done). */
  readonly leftover: () => number
  /** Resolves when the TCP connection has closed. */
  readonly ended: Promise<void>
  /** Write raw bytes. */
  write (bytes: Uint8Array): Promise<void>
  /** Wait until `predicate` holds for the frames received so far. */
  until (predicate: (frames: ServerFrame[]) => boolean, what: string, ms?: number): Promise<void>
}

/**
 * Upgrade `url` by hand and return the raw client. When the server sends a close frame, the
 * client answers with a masked close frame carrying the same code and ends its side, as RFC 6455
 * section 5.5.1 asks, so the server can finish its close handshake.
 */
export function openRawClient (url: string, ms = 5000): Promise<RawClient> {
  const { hostname, port, pathname } = new URL(url)
  const socket = netConnect({ host: hostname, port: Number(port) })
  socket.setNoDelay(true)
  socket.on('error', () => {})
  const frames: ServerFrame[] = []
  const waiters: Array<() => void> = []
  let buffer = Buffer.alloc(0)
  let upgraded = false
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const wake = (): void => { for (const waiter of waiters.splice(0)) waiter() }
  void ended.then(wake)

  const parseFrames = (): void => {
    for (;;) {
      if (buffer.length < 2) return
      const lengthField = buffer[1] & 0x7f
      const masked = (buffer[1] & 0x80) !== 0
      let offset = 2
      let length = lengthField
      if (lengthField === 126) {
        if (buffer.length < 4) return
        length = buffer.readUInt16BE(2)
        offset = 4
      } else if (lengthField === 127) {
        if (buffer.length < 10) return
        length = Number(buffer.readBigUInt64BE(2))
        offset = 10
      }
      if (masked) offset += 4
      if (buffer.length < offset + length) return
      const frame: ServerFrame = {
        fin: (buffer[0] & 0x80) !== 0,
        opcode: buffer[0] & 0x0f,
        masked,
        payload: Buffer.from(buffer.subarray(offset, offset + length))
      }
      buffer = buffer.subarray(offset + length)
      frames.push(frame)
      if (frame.opcode === Opcode.CLOSE && socket.writable) {
        socket.end(wellFormed(Opcode.CLOSE, frame.payload.subarray(0, 2)))
      }
      wake()
    }
  }

  return withExpiry(new Promise<RawClient>((resolve, reject) => {
    const key = randomBytes(16).toString('base64')
    socket.write([
      `GET ${pathname} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: Upgrade', 'Upgrade: websocket',
      'Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${key}`, '', ''
    ].join('\r\n'))
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n')
        if (end === -1) return
        const head = buffer.subarray(0, end).toString('latin1')
        buffer = buffer.subarray(end + 4)
        if (!head.startsWith('HTTP/1.1 101')) {
          reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`))
          socket.destroy()
          return
        }
        upgraded = true
        resolve(client)
      }
      parseFrames()
    })
    socket.once('close', () => { if (!upgraded) reject(new Error('closed before the upgrade')) })
    const client: RawClient = {
      socket,
      frames,
      leftover: () => buffer.length,
      ended,
      // Settles when the bytes are handed to the kernel, or when the connection is gone.
      write: (bytes) => socket.writable
        ? Promise.race([new Promise<void>((resolve) => socket.write(bytes, () => resolve())), ended])
        : Promise.resolve(),
      until: (predicate, what, waitMs = 5000) => withExpiry((async () => {
        while (!predicate(frames)) {
          if (socket.destroyed && !predicate(frames)) throw new Error(`connection closed while waiting for ${what}`)
          await new Promise<void>((resolve) => waiters.push(resolve))
        }
      })(), waitMs, what)
    }
  }), ms, `the raw upgrade of ${url}`)
}
