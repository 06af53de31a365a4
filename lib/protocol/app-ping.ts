/**
 * The application-level ping and pong (docs/PROTOCOL.md, "ping" and "pong"). Browsers answer
 * RFC 6455 pings by themselves but their JavaScript never sees them, so a browser client notices a
 * dead server only through a message it can see. The same two text frames are used on reliable
 * routes and on plain routes that enable `appPing`.
 *
 * This module must stay free of Node-only imports: the browser client bundles it.
 */

/** The ping frame without a token. With a token it is `frws:ping:<token>`. */
export const PING_TEXT = 'frws:ping'

/** The pong frame without a token. With a token it is `frws:pong:<token>`. */
export const PONG_TEXT = 'frws:pong'

/** Longest ping token in characters. */
export const MAX_PING_TOKEN_LENGTH = 64

const PREFIX_LENGTH = PING_TEXT.length
const CHAR_F = 0x66

/** True when `token` is empty or 1 to 64 printable ASCII characters (0x21 to 0x7e). */
export function isValidPingToken (token: string): boolean {
  if (token.length > MAX_PING_TOKEN_LENGTH) return false
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i)
    if (c < 0x21 || c > 0x7e) return false
  }
  return true
}

function encode (prefix: string, token: string): string {
  if (token === '') return prefix
  if (!isValidPingToken(token)) {
    throw new TypeError(`ping token must be 1 to ${MAX_PING_TOKEN_LENGTH} printable ASCII characters`)
  }
  return prefix + ':' + token
}

/**
 * Encode a ping; the peer answers with a pong carrying the same token.
 * @param token - optional, 1 to 64 printable ASCII characters; `''` for none
 */
export function encodePing (token = ''): string {
  return encode(PING_TEXT, token)
}

/**
 * Encode the pong that answers a ping with `token`.
 * @param token - the ping's token, `''` when it had none
 */
export function encodePong (token = ''): string {
  return encode(PONG_TEXT, token)
}

function parse (prefix: string, text: string): string | undefined {
  const length = text.length
  // Cheap rejection first: this runs on every text message of an appPing route.
  if (length < PREFIX_LENGTH || text.charCodeAt(0) !== CHAR_F || !text.startsWith(prefix)) return undefined
  if (length === PREFIX_LENGTH) return ''
  if (text.charCodeAt(PREFIX_LENGTH) !== 0x3a || length === PREFIX_LENGTH + 1) return undefined
  const token = text.slice(PREFIX_LENGTH + 1)
  return isValidPingToken(token) ? token : undefined
}

/**
 * The token of a ping frame (`''` when it has none), or `undefined` when `text` is not exactly a
 * ping frame. On a plain `appPing` route a text message for which this returns a string is answered
 * with `encodePong(token)` and not delivered to the application.
 */
export function parsePing (text: string): string | undefined {
  return parse(PING_TEXT, text)
}

/** The token of a pong frame (`''` when it has none), or `undefined` when `text` is not exactly a pong frame. */
export function parsePong (text: string): string | undefined {
  return parse(PONG_TEXT, text)
}
