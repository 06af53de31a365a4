/**
 * Close codes used by fastify-reliable-ws, shared by the server and the client.
 *
 * This module must stay free of Node-only imports: the browser client bundles it.
 * RFC 6455 section 7.4.1 defines the 1xxx codes; 4000-4999 are private-use codes
 * (RFC 6455 section 7.4.2) that this package assigns itself.
 */
export const CloseCode = {
  /** RFC 6455: the purpose of the connection was fulfilled. */
  NORMAL: 1000,
  /** RFC 6455: the server is shutting down (or the page is navigating away). */
  GOING_AWAY: 1001,
  /** RFC 6455: the peer broke the WebSocket framing rules. */
  PROTOCOL_ERROR: 1002,
  /** RFC 6455: a data type the endpoint cannot accept (text vs binary). */
  UNSUPPORTED_DATA: 1003,
  /** RFC 6455: reserved, never sent; reported when no close code was present. */
  NO_STATUS: 1005,
  /** RFC 6455: reserved, never sent; reported when the TCP connection dropped without a close frame. */
  ABNORMAL: 1006,
  /** RFC 6455: a text frame was not valid UTF-8. */
  INVALID_PAYLOAD: 1007,
  /** RFC 6455: a generic policy violation. */
  POLICY_VIOLATION: 1008,
  /** RFC 6455: a message exceeded `maxPayload`. */
  MESSAGE_TOO_BIG: 1009,
  /** RFC 6455: the server hit an unexpected condition (a handler threw). */
  INTERNAL_ERROR: 1011,
  /** RFC 6455 (IANA registry): the server is overloaded; retry later. */
  TRY_AGAIN_LATER: 1013,
  /** No application message arrived within `idleTimeout`. */
  IDLE_TIMEOUT: 4000,
  /** Reliable mode: a protocol message was malformed or out of order. */
  BAD_MESSAGE: 4400,
  /** Reliable mode: authentication failed on (re)connect, or a resume came from another principal. */
  UNAUTHORIZED: 4401,
  /** Reliable mode: a resume presented a wrong or superseded resume token; the session stays with its owner. */
  RESUME_REFUSED: 4403,
  /** Reliable mode: the handshake did not complete within `handshakeTimeout`. */
  HANDSHAKE_TIMEOUT: 4408,
  /** Reliable mode: another connection resumed this session, this one is superseded. */
  SESSION_REPLACED: 4409,
  /** Reliable mode: a resume named a session that belongs to another route; the session stays with its owner. */
  WRONG_ROUTE: 4421,
  /** Reliable mode: the unacknowledged-message buffer overflowed its bounds. */
  BUFFER_OVERFLOW: 4413,
  /** Reliable mode: the client asked for a protocol version the server does not speak. */
  UNSUPPORTED_VERSION: 4426,
  /** Reliable mode: the server's memory budget for sessions was exceeded and this session was ended to make room. */
  SESSION_SHED: 4507
} as const

/** A close code this package sends or reports. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode]

/** The default reason string sent with each close code (all well under the 123-byte limit). */
export const CloseReason: Readonly<Record<CloseCodeValue, string>> = {
  1000: 'normal closure',
  1001: 'server shutting down',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status',
  1006: 'abnormal closure',
  1007: 'invalid payload',
  1008: 'policy violation',
  1009: 'message too big',
  1011: 'internal error',
  1013: 'try again later',
  4000: 'idle timeout',
  4400: 'bad message',
  4401: 'unauthorized',
  4403: 'resume refused',
  4408: 'handshake timeout',
  4409: 'session replaced',
  4413: 'buffer overflow',
  4421: 'session belongs to another route',
  4426: 'unsupported protocol version',
  4507: 'session budget exceeded'
}

/** RFC 6455 section 5.5: a control frame's payload is at most 125 bytes, two of them the code. */
export const MAX_CLOSE_REASON_BYTES = 123

const encoder = new TextEncoder()

/**
 * Cut a close reason to at most 123 UTF-8 bytes without splitting a character.
 * ws throws on longer reasons, so every reason passes through here.
 */
export function truncateCloseReason (reason: string): string {
  if (reason.length * 3 <= MAX_CLOSE_REASON_BYTES) return reason
  const bytes = encoder.encode(reason)
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return reason
  let end = MAX_CLOSE_REASON_BYTES
  // Step back over UTF-8 continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--
  return new TextDecoder().decode(bytes.subarray(0, end))
}

/** True for codes an endpoint may put in a close frame (RFC 6455 section 7.4). */
export function isSendableCloseCode (code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
}

/** Codes that mean the connection ended abnormally, logged at warn by the server. */
export function isAbnormalCloseCode (code: number): boolean {
  return code === CloseCode.ABNORMAL || code === CloseCode.PROTOCOL_ERROR ||
    code === CloseCode.INVALID_PAYLOAD || code === CloseCode.INTERNAL_ERROR
}
