import type { Payload } from '../protocol/frames.js'

/** A broadcast that travels between nodes. */
export interface FanoutBroadcast {
  kind: 'broadcast'
  /** The message, as the application passed it (a text or a binary frame). */
  data: Payload
  /** Only this room's members; every connection when absent. */
  room?: string
  /** True when `data` already went through a route's codec (a typed broadcast): delivered as is. */
  encoded?: boolean
}

/** A session was claimed by a connection on some node: its previous owner, wherever it is, must let go. */
export interface FanoutClaim {
  kind: 'claim'
  sessionId: string
  /** The owner id before the claim (the connection to close with 4409). */
  previousOwner: string
}

/** What nodes tell each other. */
export type FanoutMessage = FanoutBroadcast | FanoutClaim

/**
 * Carries broadcasts and claim notices between the nodes of one application (docs/SCALE-OUT.md).
 * A node publishes; every OTHER node receives (no echo: the publisher delivers locally itself).
 * Delivery is at most once per node: a node that is cut off from the backend misses what was
 * published meanwhile (reliable sessions still get everything sent to them directly).
 */
export interface Fanout {
  /**
   * Begin receiving; `receive` runs for each message another node published. `onError` reports a
   * publish that failed or a message that could not be read (the plugin logs it at warn).
   */
  start (receive: (message: FanoutMessage) => void, onError: (error: Error) => void): Promise<void>
  /** Send to the other nodes. Never throws: a failure goes to the `onError` given to `start`. */
  publish (message: FanoutMessage): void
  /** Stop receiving and release what `start` acquired. */
  close (): Promise<void>
}
