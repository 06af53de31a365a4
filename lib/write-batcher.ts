import type { WebSocket } from 'ws'
import type { Duplex } from 'node:stream'

/**
 * Batches the writes of one event-loop turn into one syscall per socket.
 *
 * For small messages the server's time goes to one `writev` per message (see
 * ../shared/FACTS.md: corked writes lift 64-byte echo throughput 2.7-3.3x). The first send on a
 * socket in a turn corks it; one shared `process.nextTick` uncorks every corked socket once the
 * current I/O callback (which may have handled many messages) has finished.
 */
const corked: Duplex[] = []
let flushScheduled = false

function uncorkAll (): void {
  flushScheduled = false
  for (let i = 0; i < corked.length; i++) corked[i].uncork()
  corked.length = 0
}

/** Cork `stream` until the end of this turn, if it is not corked already. */
export function corkUntilNextTick (stream: Duplex | undefined): void {
  if (stream === undefined || stream.writableCorked > 0) return
  stream.cork()
  corked.push(stream)
  if (!flushScheduled) {
    flushScheduled = true
    process.nextTick(uncorkAll)
  }
}

/** The TCP (or TLS) stream under a `ws` socket; `ws` keeps it in `_socket`. */
export function transportOf (socket: WebSocket | object | undefined): Duplex | undefined {
  return (socket as { _socket?: Duplex } | undefined)?._socket
}

/** Cork the transport of a `ws` socket until the end of this turn. */
export function batchWrites (socket: WebSocket): void {
  corkUntilNextTick(transportOf(socket))
}
