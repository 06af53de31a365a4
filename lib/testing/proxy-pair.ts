/**
 * One connection through the fault proxy: the client's socket, the socket to the target, and a
 * lane per direction that passes, delays or holds what arrives, always in order.
 */
import type { Socket } from 'node:net'

/** What the proxy's network does now; shared by every pair of one proxy. */
export interface NetworkState {
  /** `pass`: forward at once; `delay`: forward `latency` ms after arrival; `blackhole`: hold everything. */
  mode: 'pass' | 'delay' | 'blackhole'
  /** Added latency in ms (0 unless `mode` is `delay`). */
  latency: number
  /** Bytes accepted and never delivered because their connection was destroyed first. */
  droppedBytes: number
}

/** Data, a FIN (`end`), or the source socket's close, in arrival order; `at` is when it may pass (Infinity: held). */
type LaneItem =
  | { kind: 'data', chunk: Buffer, at: number }
  | { kind: 'end', at: number }
  | { kind: 'close', at: number }

/** One direction of a pair: `from` → `to`. */
class Lane {
  readonly #pair: ProxyPair
  readonly #from: Socket
  readonly #to: Socket
  readonly #network: NetworkState
  readonly #queue: LaneItem[] = []
  #timer: NodeJS.Timeout | undefined
  #waitingDrain = false

  constructor (pair: ProxyPair, from: Socket, to: Socket, network: NetworkState) {
    this.#pair = pair
    this.#from = from
    this.#to = to
    this.#network = network
    from.on('data', (chunk: Buffer) => this.#arrive({ kind: 'data', chunk, at: 0 }))
    from.on('end', () => this.#arrive({ kind: 'end', at: 0 }))
    from.on('close', () => {
      if (this.#network.mode === 'blackhole') pair.closedInOutage = true
      else this.#arrive({ kind: 'close', at: 0 })
    })
    // A reset or a refused connection: 'close' follows and carries the consequence.
    from.on('error', () => {})
  }

  /** Bytes accepted and not yet delivered. */
  get pendingBytes (): number {
    let bytes = 0
    for (const item of this.#queue) if (item.kind === 'data') bytes += item.chunk.length
    return bytes
  }

  #arrive (item: LaneItem): void {
    if (this.#pair.destroyed) return
    const { mode, latency } = this.#network
    if (mode === 'pass' && this.#queue.length === 0) {
      this.#pass(item)
      return
    }
    item.at = mode === 'blackhole' ? Infinity : Date.now() + latency
    this.#queue.push(item)
    this.#schedule()
  }

  /** Leaving a blackhole: what was held may pass `latency` ms from now (at once when 0). */
  release (latency: number): void {
    const at = Date.now() + latency
    for (const item of this.#queue) if (item.at === Infinity) item.at = at
    this.flush()
  }

  /** Back to a normal network: everything queued passes now, in order. */
  passAll (): void {
    for (const item of this.#queue) item.at = 0
    this.flush()
  }

  /** Stop the timer; entering a blackhole holds whatever is still queued. */
  hold (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const item of this.#queue) item.at = Infinity
  }

  /** Pass every item that is due, in order, then wait for the next one. */
  flush (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const now = Date.now()
    while (this.#queue.length > 0 && this.#queue[0].at <= now && !this.#pair.destroyed) {
      this.#pass(this.#queue.shift() as LaneItem)
    }
    this.#schedule()
  }

  #schedule (): void {
    if (this.#timer !== undefined || this.#queue.length === 0 || this.#pair.destroyed) return
    const at = this.#queue[0].at
    if (at === Infinity) return
    this.#timer = setTimeout(() => this.flush(), Math.max(0, at - Date.now()))
    this.#timer.unref()
  }

  #pass (item: LaneItem): void {
    if (item.kind === 'close') {
      this.#pair.destroy(false)
      return
    }
    if (item.kind === 'end') {
      this.#to.end()
      return
    }
    if (this.#to.destroyed) {
      this.#network.droppedBytes += item.chunk.length
      return
    }
    if (this.#to.write(item.chunk) || this.#waitingDrain) return
    // Backpressure, as a router's buffer would: stop reading until the other side drains.
    this.#waitingDrain = true
    this.#from.pause()
    this.#to.once('drain', () => {
      this.#waitingDrain = false
      this.#from.resume()
    })
  }

  /** Forget what is queued (the pair is gone), counting its data as dropped. */
  discard (): void {
    this.#network.droppedBytes += this.pendingBytes
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queue.length = 0
  }
}

function endSocket (socket: Socket, reset: boolean): void {
  if (socket.destroyed) return
  // resetAndDestroy() on a socket still connecting would wait for the connection first.
  if (reset && !socket.connecting) socket.resetAndDestroy()
  else socket.destroy()
}

/** A client connection and its upstream connection, forwarded both ways through the network state. */
export class ProxyPair {
  readonly client: Socket
  readonly upstream: Socket
  /** A side closed during a blackhole; the other side learns it when the blackhole ends. */
  closedInOutage = false
  destroyed = false
  readonly #lanes: [Lane, Lane]
  readonly #onDestroyed: (pair: ProxyPair) => void

  constructor (client: Socket, upstream: Socket, network: NetworkState, onDestroyed: (pair: ProxyPair) => void) {
    this.client = client
    this.upstream = upstream
    this.#onDestroyed = onDestroyed
    this.#lanes = [new Lane(this, client, upstream, network), new Lane(this, upstream, client, network)]
  }

  /** Bytes accepted in either direction and not yet delivered (held by a blackhole or a delay). */
  get pendingBytes (): number {
    return this.#lanes[0].pendingBytes + this.#lanes[1].pendingBytes
  }

  /** Entering a blackhole: hold what is queued. */
  hold (): void {
    for (const lane of this.#lanes) lane.hold()
  }

  /**
   * Leaving a blackhole: a pair one side of which closed meanwhile is destroyed (the other side
   * learns it only now, as after a real outage) and what it held is dropped; otherwise held data
   * passes in order, `latency` ms from now.
   */
  release (latency: number): void {
    if (this.closedInOutage) {
      this.destroy(false)
      return
    }
    for (const lane of this.#lanes) lane.release(latency)
  }

  /** Pass at once whatever a delay was still holding back (back to a normal network). */
  flushNow (): void {
    for (const lane of this.#lanes) lane.passAll()
  }

  /** Destroy both sockets (with a TCP reset when `reset`); undelivered data counts as dropped. */
  destroy (reset: boolean): void {
    if (this.destroyed) return
    this.destroyed = true
    for (const lane of this.#lanes) lane.discard()
    endSocket(this.client, reset)
    endSocket(this.upstream, reset)
    this.#onDestroyed(this)
  }
}
