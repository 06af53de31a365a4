import createError from '@fastify/error'

/**
 * Every error this package throws or rejects with, built with `@fastify/error` so each one
 * carries a stable `code`. docs/ERRORS.md documents each code.
 */

/** A plugin or route option has a value the plugin cannot accept. Message: option name, what it accepts, what it got. */
export const FRWS_ERR_OPTION_INVALID = createError<[string, string, string]>(
  'FRWS_ERR_OPTION_INVALID',
  'Invalid option "%s": expected %s, received %s',
  500,
  TypeError
)

/** `wsRoute()` was called with arguments of the wrong shape. */
export const FRWS_ERR_ROUTE_INVALID = createError<[string]>(
  'FRWS_ERR_ROUTE_INVALID',
  'Invalid WebSocket route: %s',
  500,
  TypeError
)

/** A send was attempted on a connection that is closing or closed. */
export const FRWS_ERR_CONNECTION_CLOSED = createError<[string]>(
  'FRWS_ERR_CONNECTION_CLOSED',
  'Connection %s is closed',
  500
)

/** The server is shutting down and refuses new WebSocket upgrades. */
export const FRWS_ERR_SHUTTING_DOWN = createError(
  'FRWS_ERR_SHUTTING_DOWN',
  'The server is shutting down',
  503
)

/** The route or plugin already holds `maxConnections` connections. */
export const FRWS_ERR_TOO_MANY_CONNECTIONS = createError<[number]>(
  'FRWS_ERR_TOO_MANY_CONNECTIONS',
  'Too many WebSocket connections (limit %d)',
  503
)

/** The upgrade request's Origin is not allowed by the origin policy (cross-site WebSocket hijacking guard). */
export const FRWS_ERR_ORIGIN_FORBIDDEN = createError<[string]>(
  'FRWS_ERR_ORIGIN_FORBIDDEN',
  'Origin %s is not allowed',
  403
)

/** The upgrade request carries no Origin header and `allowMissingOrigin` is false. */
export const FRWS_ERR_ORIGIN_MISSING = createError(
  'FRWS_ERR_ORIGIN_MISSING',
  'An Origin header is required',
  403
)

/** The upgrade did not complete within `handshakeTimeout` (slow hooks or a slow client). */
export const FRWS_ERR_HANDSHAKE_TIMEOUT = createError<[number]>(
  'FRWS_ERR_HANDSHAKE_TIMEOUT',
  'The WebSocket handshake did not complete within %d ms',
  408
)

/** A reliable session ended (closed, expired, overflowed or moved) before the client acknowledged a message. */
export const FRWS_ERR_SESSION_ENDED = createError<[string, string]>(
  'FRWS_ERR_SESSION_ENDED',
  'Reliable session %s ended (%s) before the message was acknowledged',
  500
)

/** A reliable `send()` was not acknowledged within its `timeout`; the message stays queued. */
export const FRWS_ERR_SEND_TIMEOUT = createError<[number]>(
  'FRWS_ERR_SEND_TIMEOUT',
  'The message was not acknowledged within %d ms',
  500
)

/** `request()` got no response within its timeout. */
export const FRWS_ERR_REQUEST_TIMEOUT = createError<[number]>(
  'FRWS_ERR_REQUEST_TIMEOUT',
  'No response within %d ms',
  500
)

/** The peer answered a request with an error response; the message is the peer's reason. */
export const FRWS_ERR_REQUEST_FAILED = createError<[string]>(
  'FRWS_ERR_REQUEST_FAILED',
  'The peer failed the request: %s',
  500
)

/** One client address already holds `maxConnectionsPerAddress` sockets. Answered with `Retry-After`. */
export const FRWS_ERR_TOO_MANY_CONNECTIONS_FROM_ADDRESS = createError<[number]>(
  'FRWS_ERR_TOO_MANY_CONNECTIONS_FROM_ADDRESS',
  'Too many WebSocket connections from this address (limit %d)',
  503
)

/** One client address made more upgrade requests than `upgradeRate` allows. Answered with `Retry-After`. */
export const FRWS_ERR_UPGRADE_RATE_LIMITED = createError<[number]>(
  'FRWS_ERR_UPGRADE_RATE_LIMITED',
  'Too many WebSocket upgrades from this address; retry in %d s',
  429
)

/** An upgrade request reached a route that is not a WebSocket route (the info route, the app's own GET routes). */
export const FRWS_ERR_UPGRADE_NOT_WEBSOCKET_ROUTE = createError<[string]>(
  'FRWS_ERR_UPGRADE_NOT_WEBSOCKET_ROUTE',
  'Route %s does not accept WebSocket upgrades',
  400
)

/** A reliable `send()`, `request()` or response would make a frame larger than `maxPayload`; it was not sent (PROTOCOL.md [R-SZ-2]). */
export const FRWS_ERR_MESSAGE_TOO_BIG = createError<[number, number]>(
  'FRWS_ERR_MESSAGE_TOO_BIG',
  'The frame of %d bytes exceeds maxPayload (%d bytes); it was not sent',
  500
)

// Backpressure and request limits (issue 7)

/** The connection was cut as a slow consumer (close code 4420): its outbound buffer passed `maxBufferedBytes`, or did not drain within `drainTimeout`. */
export const FRWS_ERR_SLOW_CONSUMER = createError<[string]>(
  'FRWS_ERR_SLOW_CONSUMER',
  'Connection %s was closed as a slow consumer',
  500
)

/** `request()` was called while the session already had `reliable.maxRequestsInFlight` requests waiting for a response. */
export const FRWS_ERR_REQUEST_LIMIT = createError<[number]>(
  'FRWS_ERR_REQUEST_LIMIT',
  'Too many requests in flight (limit %d)',
  500
)

// Typed messages (issue 11)

/**
 * A message failed its route's `messages` schema or codec. Outgoing (`send()`, `request()`,
 * `broadcast()` with `messages`): nothing was sent. Incoming: a reliable `request()` whose response
 * is invalid rejects with it. Also when a schema validates asynchronously (refused: README, "Typed messages").
 */
export const FRWS_ERR_MESSAGE_INVALID = createError<[string, string]>(
  'FRWS_ERR_MESSAGE_INVALID',
  'Invalid %s message %s',
  500
)

/** The session store could not be reached or did not answer in time (issue 9). */
export const FRWS_ERR_STORE_UNAVAILABLE = createError<[string, string]>(
  'FRWS_ERR_STORE_UNAVAILABLE',
  'Session store unavailable during %s: %s',
  503
)
