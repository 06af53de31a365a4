/** One client connection of the echo load. */
export interface EchoLink {
  /** Send `count` echo requests carrying `payload` (the same string for the whole load). */
  send (payload: string, count: number): void
  /** Drop the connection at once. */
  close (): void
}

/** What a link reports to the load. */
export interface EchoEvents {
  /** `count` echo replies (or acknowledgements) came back. */
  reply (count: number): void
  /** The connection has closed, for whatever reason. Runs once. */
  close (): void
}

/**
 * Opens one connection to the target listening on 127.0.0.1:`port`. Rejects when the connection
 * cannot be opened.
 */
export type EchoDriver = (port: number, events: EchoEvents) => Promise<EchoLink>
