/**
 * A reference model of the server side of the reliable protocol after the handshake
 * (docs/PROTOCOL.md: "Frame grammar", "Sequencing", `ack`, `ping`, "Transport" size rule), written
 * from the document with regular expressions, independent of lib/protocol/frames.ts. The server
 * under test is an echo route: a delivered `D` is sent back as the server's next `D`, a delivered
 * `Q` is answered with an `R` carrying the same payload.
 */

/** A WebSocket message as it travels: text or binary. */
export interface WireMessage {
  data: string | Buffer
  binary: boolean
}

/** What the server should have done with the messages fed so far. */
export interface ReliableExpectation {
  /** Payloads the application received, in order. */
  delivered: Array<string | Buffer>
  /** Messages the server sends back, acks excepted, in order (echoes, responses, pongs). */
  replies: WireMessage[]
  /** The close code of the server; undefined while the session goes on. */
  closeCode: number | undefined
  /** Why the model closed, for failure messages. */
  closeWhy: string | undefined
}

const MAX_SEQ = 2n ** 53n - 1n
const SEQ = '([1-9][0-9]*)'
const SEQUENCED = new RegExp(`^([DQ])${SEQ}:`, 's')
const ANSWER = new RegExp(`^([RE])${SEQ},${SEQ}:`, 's')
const ACK = new RegExp(`^A${SEQ}$`)
const PING_PONG = /^frws:(ping|pong)(?::([\x21-\x7e]{1,64}))?$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

function seqValue (digits: string): number | undefined {
  const value = BigInt(digits)
  return value <= MAX_SEQ ? Number(value) : undefined
}

/** Tracks one session on the echo route, from its creation, message by message and across resumes. */
export class ReliableModel {
  readonly expected: ReliableExpectation = { delivered: [], replies: [], closeCode: undefined, closeWhy: undefined }
  /** delivered(client→server). */
  delivered = 0
  /** The highest seq received on this connection. */
  connectionHigh = 0
  /** The highest seq the server sent. */
  serverSeq = 0
  /** The highest server seq the client acknowledged (by an ack or a resume). */
  serverAcked = 0
  /** Every sequenced frame the server sent, by seq, for the replay after a resume. */
  readonly #serverFrames = new Map<number, WireMessage>()

  constructor (readonly maxPayload: number) {}

  get closed (): boolean {
    return this.expected.closeCode !== undefined
  }

  #close (code: number, why: string): void {
    this.expected.closeCode = code
    this.expected.closeWhy = why
  }

  /** Feed one message from the client. */
  feed (message: WireMessage): void {
    if (this.closed) return
    const bytes = typeof message.data === 'string' ? Buffer.from(message.data) : message.data
    if (bytes.length > this.maxPayload) return this.#close(1009, 'frame above maxPayload')
    if (message.binary) return this.#binary(bytes)
    let text: string
    try {
      text = utf8.decode(bytes)
    } catch {
      return this.#close(1007, 'text message not UTF-8')
    }
    this.#text(text)
  }

  #text (text: string): void {
    let match = SEQUENCED.exec(text)
    if (match !== null) return this.#sequenced(match[1], match[2], undefined, text.slice(match[0].length), false)
    match = ANSWER.exec(text)
    if (match !== null) return this.#sequenced(match[1], match[2], match[3], text.slice(match[0].length), false)
    match = ACK.exec(text)
    if (match !== null) return this.#ack(match[1])
    match = PING_PONG.exec(text)
    if (match !== null) {
      if (match[1] === 'ping') this.expected.replies.push({ data: `frws:pong${match[2] === undefined ? '' : ':' + match[2]}`, binary: false })
      return
    }
    this.#close(4400, `not a client frame after the handshake: ${JSON.stringify(text.slice(0, 20))}`)
  }

  #binary (bytes: Buffer): void {
    // Binary messages carry D, Q and R only; the header is ASCII.
    const head = bytes.toString('latin1')
    let match = SEQUENCED.exec(head)
    if (match !== null) return this.#sequenced(match[1], match[2], undefined, bytes.subarray(match[0].length), true)
    match = ANSWER.exec(head)
    if (match !== null && match[1] === 'R') return this.#sequenced('R', match[2], match[3], bytes.subarray(match[0].length), true)
    this.#close(4400, 'not a binary data, request or response frame')
  }

  /**
   * The client reconnected and resumed, saying it delivered the server's frames up to
   * `clientDelivered` (handshake step 5): the server releases those and replays the rest in order.
   */
  resume (clientDelivered: number): void {
    if (this.closed) return
    this.connectionHigh = 0
    this.serverAcked = Math.max(this.serverAcked, clientDelivered)
    for (let seq = clientDelivered + 1; seq <= this.serverSeq; seq++) this.expected.replies.push(this.#serverFrames.get(seq)!)
  }

  /** The server refused a resume: the session ends with `code`. */
  #ack (digits: string): void {
    const seq = seqValue(digits)
    if (seq === undefined) return this.#close(4400, 'ack above 2^53 - 1')
    if (seq > this.serverSeq) return this.#close(4400, `ack ${seq} of a message never sent`)
    this.serverAcked = Math.max(this.serverAcked, seq)
  }

  #sequenced (type: string, seqDigits: string, refDigits: string | undefined, payload: string | Buffer, binary: boolean): void {
    const seq = seqValue(seqDigits)
    const ref = refDigits === undefined ? 0 : seqValue(refDigits)
    if (seq === undefined || ref === undefined) return this.#close(4400, 'seq or ref above 2^53 - 1')
    if (seq <= this.connectionHigh) return this.#close(4400, `seq went backwards: ${seq}`)
    this.connectionHigh = seq
    if (seq <= this.delivered) return
    if (seq !== this.delivered + 1) return this.#close(4400, `gap in seq: expected ${this.delivered + 1}, got ${seq}`)
    if (ref > this.serverSeq) return this.#close(4400, `response to request ${ref} that was never sent`)
    this.delivered = seq
    // An answer acknowledges the server's frames up to its ref (docs/PROTOCOL.md [R-AK-5]).
    if (type === 'R' || type === 'E') this.serverAcked = Math.max(this.serverAcked, ref)
    if (type === 'D') {
      this.expected.delivered.push(payload)
      this.#reply(`D${++this.serverSeq}:`, payload, binary)
    } else if (type === 'Q') {
      this.#reply(`R${++this.serverSeq},${seq}:`, payload, binary)
    }
  }

  #reply (header: string, payload: string | Buffer, binary: boolean): void {
    const frame = typeof payload === 'string'
      ? { data: header + payload, binary }
      : { data: Buffer.concat([Buffer.from(header, 'latin1'), payload]), binary }
    this.#serverFrames.set(this.serverSeq, frame)
    this.expected.replies.push(frame)
  }
}
