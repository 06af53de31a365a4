import type { Duplex } from 'node:stream'

const corked: Duplex[] = []
let flushScheduled = false

function uncorkAll (): void {
  flushScheduled = false
  for (let i = 0; i < corked.length; i++) corked[i].uncork()
  corked.length = 0
}

/**
 * Cork `stream` until the end of this event-loop turn, so that the load generator answers a
 * burst of replies with one write instead of one per message: it keeps the load process from
 * being the bottleneck, whatever the target does.
 */
export function corkUntilNextTick (stream: Duplex | undefined): void {
  if (stream === undefined || stream.writableCorked > 0) return
  stream.cork()
  corked.push(stream)
  if (!flushScheduled) {
    flushScheduled = true
    process.nextTick(uncorkAll)
  }
}

/** The TCP stream under a `ws` socket (`ws` keeps it in `_socket`). */
export function transportOf (socket: object | undefined): Duplex | undefined {
  return (socket as { _socket?: Duplex } | undefined)?._socket
}
