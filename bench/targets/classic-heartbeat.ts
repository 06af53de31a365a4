import type { WebSocket } from 'ws'

type TrackedSocket = WebSocket & { isAlive?: boolean }

function markAlive (this: TrackedSocket): void {
  this.isAlive = true
  classicCounters.pongs++
}

/** Counters of the classic heartbeat in this process. */
export const classicCounters = { rounds: 0, pings: 0, pongs: 0, terminated: 0 }

/** Enrol a new socket in the classic heartbeat: alive until a round finds it silent. */
export function trackClassic (socket: WebSocket): void {
  (socket as TrackedSocket).isAlive = true
  socket.on('pong', markAlive)
}

/**
 * The classic heartbeat of the ws README: one `setInterval` that terminates every client that
 * did not answer the previous round and pings all the others. Returns a function that stops it.
 */
export function startClassicHeartbeat (clients: Set<WebSocket>, pingInterval: number): () => void {
  const interval = setInterval(() => {
    classicCounters.rounds++
    for (const socket of clients as Set<TrackedSocket>) {
      if (socket.isAlive === false) {
        classicCounters.terminated++
        socket.terminate()
        continue
      }
      socket.isAlive = false
      socket.ping()
      classicCounters.pings++
    }
  }, pingInterval)
  return () => clearInterval(interval)
}
