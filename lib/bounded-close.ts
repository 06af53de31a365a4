import type { WebSocket } from 'ws'
import { truncateCloseReason } from './protocol/close-codes.js'

/**
 * How long a socket the server refuses or replaces (4401, 4409, a failed reliable handshake) may
 * take to answer the close frame before it is terminated, in ms. `ws` would wait 30 s, holding a
 * `maxConnections` slot and the shutdown for that long.
 */
export const REFUSED_CLOSE_TIMEOUT = 1000

/**
 * Close a socket the server no longer wants with `code` and `reason`, and terminate it if the
 * peer has not completed the close handshake within {@link REFUSED_CLOSE_TIMEOUT}. A paused
 * socket is resumed first: it must read the peer's close frame to finish.
 */
export function closeWithinBound (socket: WebSocket, code: number, reason: string): void {
  if (socket.isPaused) socket.resume()
  if (socket.readyState > 1) return
  socket.close(code, truncateCloseReason(reason))
  const timer = setTimeout(terminateIfOpen, REFUSED_CLOSE_TIMEOUT, socket)
  timer.unref()
}

function terminateIfOpen (socket: WebSocket): void {
  if (socket.readyState !== 3) socket.terminate()
}
