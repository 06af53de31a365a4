import { encodeHello } from '../../../lib/protocol/handshake.js'
import { PROTOCOL_VERSION } from '../../../lib/protocol/version.js'
import { ECHO_PATH } from '../../lib/target-protocol.js'
import { encodeClientFrame, Opcode } from '../frames/frame-codec.js'
import { openUpgradedSocket } from '../frames/upgrade.js'
import type { EchoDriver } from './driver.js'

function ignore (): void {}

const CHAR_D = 0x44
const CHAR_W = 0x57

/**
 * Driver for the reliable-mode target, speaking the protocol at the frame level like the
 * `ws-frames` driver does for plain targets (so the load core is not the bottleneck): a hello,
 * then data frames `D<seq>:<payload>` with consecutive seqs, and one cumulative ack `A<n>` per
 * chunk of replies (coalesced like the real client). Echoes (`D` frames) count as replies; the
 * server's acks are read and ignored.
 */
export const reliableDriver: EchoDriver = async (port, events) => {
  const { socket, head } = await openUpgradedSocket(port, ECHO_PATH)
  let welcomed: () => void = ignore
  const ready = new Promise<void>((resolve) => { welcomed = resolve })
  const reader = new ReliableFrameReader((firstByte) => {
    if (firstByte === CHAR_D) return true
    if (firstByte === CHAR_W) welcomed()
    return false
  }, (echoes) => {
    delivered += echoes
    socket.write(encodeClientFrame(Opcode.TEXT, Buffer.from('A' + delivered)))
    events.reply(echoes)
  })
  let delivered = 0
  socket.on('data', (chunk: Buffer) => reader.push(chunk))
  socket.once('close', events.close)
  socket.on('error', ignore)
  socket.write(encodeClientFrame(Opcode.TEXT, Buffer.from(encodeHello({ version: PROTOCOL_VERSION }))))
  if (head.length > 0) reader.push(head)
  await ready

  let seq = 0
  return {
    send (payload, count) {
      const frames: Buffer[] = []
      for (let i = 0; i < count; i++) frames.push(encodeClientFrame(Opcode.TEXT, Buffer.from('D' + (++seq) + ':' + payload)))
      socket.write(frames.length === 1 ? frames[0] : Buffer.concat(frames))
    },
    close () {
      socket.destroy()
    }
  }
}

/**
 * Splits a stream of unmasked server frames and reports, per chunk, how many text frames the
 * `counts` predicate (given the first payload byte) accepted. Control frames are skipped; the
 * server's pings need no answer within a benchmark run.
 */
class ReliableFrameReader {
  readonly #counts: (firstByte: number) => boolean
  readonly #onCounted: (count: number) => void
  #carry: Buffer | null = null

  constructor (counts: (firstByte: number) => boolean, onCounted: (count: number) => void) {
    this.#counts = counts
    this.#onCounted = onCounted
  }

  push (chunk: Buffer): void {
    let buffer = chunk
    if (this.#carry !== null) {
      buffer = Buffer.concat([this.#carry, chunk])
      this.#carry = null
    }
    let offset = 0
    let counted = 0
    while (buffer.length - offset >= 2) {
      const opcode = buffer[offset] & 0x0f
      let length = buffer[offset + 1] & 0x7f
      let headerLength = 2
      if (length === 126) headerLength = 4
      else if (length === 127) headerLength = 10
      if (buffer.length - offset < headerLength) break
      if (length === 126) length = buffer.readUInt16BE(offset + 2)
      else if (length === 127) length = Number(buffer.readBigUInt64BE(offset + 2))
      // Whole frames only: replies are small, so waiting for the rest of a frame costs nothing.
      if (buffer.length - offset < headerLength + length) break
      if (opcode === Opcode.TEXT && length > 0 && this.#counts(buffer[offset + headerLength])) counted++
      offset += headerLength + length
    }
    if (offset < buffer.length) this.#carry = Buffer.from(buffer.subarray(offset))
    if (counted > 0) this.#onCounted(counted)
  }
}
