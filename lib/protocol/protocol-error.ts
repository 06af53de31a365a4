import type { CloseCodeValue } from './close-codes.js'

/**
 * A violation of the reliable-mode protocol by the peer. The connection that received the
 * offending frame closes with `closeCode` and uses `message` as the close reason (after
 * `truncateCloseReason`).
 *
 * This module must stay free of Node-only imports: the browser client bundles it.
 */
export class ProtocolError extends Error {
  /** The close code the receiving side closes the connection with (see docs/PROTOCOL.md). */
  readonly closeCode: CloseCodeValue

  /**
   * @param closeCode - the close code to close the connection with
   * @param message - a precise, human-readable description, e.g. "data frame seq must be a positive integer"
   */
  constructor (closeCode: CloseCodeValue, message: string) {
    super(message)
    this.name = 'ProtocolError'
    this.closeCode = closeCode
  }
}
