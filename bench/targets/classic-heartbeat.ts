import type { WebSocket } from 'ws'

type TrackedSocket = WebSocket & { isAlive?: boolean }

/** The ws README's pong listener, unchanged: no counting on the pong path. */
function heartbeat (this: TrackedSocket): void {
  this.isAlive = true
}

/** Counters of the classic heartbeat in this process (rounds, pings sent, clients terminated). */
export const classicCounters = { rounds: 0, pings: 0, terminated: 0 }

/** Enrol a new socket in the classic heartbeat: alive until a round finds it silent. */
export function trackClassic (socket: WebSocket): void {
  (socket as TrackedSocket).isAlive = true
  socket.on('pong', heartbeat)
}

/**
 * The classic heartbeat of the ws README: one `setInterval` that terminates every client that
 * did not answer the previous round and pings all the others, with `clients.forEach` and
 * `ws.ping()` as there. The only additions are three counter increments for the report. Returns a
 * function that stops it.
 */
export function startClassicHeartbeat (clients: Set<WebSocket>, pingInterval: number): () => void {
  const interval = setInterval(function ping () {
    classicCounters.rounds++
    ;(clients as Set<TrackedSocket>).forEach(function each (ws) {
      if (ws.isAlive === false) {
        classicCounters.terminated++
        ws.terminate()
        return
      }
      ws.isAlive = false
      ws.ping()
      classicCounters.pings++
    })
  }, pingInterval)
  return () => clearInterval(interval)
}
