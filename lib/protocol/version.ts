/**
 * Protocol version and WebSocket subprotocol negotiation for reliable mode (docs/PROTOCOL.md, "Transport").
 *
 * This module must stay free of Node-only imports: the browser client bundles it.
 */

/** The reliable-mode protocol version this package speaks. */
export const PROTOCOL_VERSION = 2

/**
 * Every protocol version this package speaks, newest first. Version 1 (no resume token) is not
 * spoken any more: its resume had no secret but the session id, so a v1 hello is refused with 4426.
 */
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION]

/** The WebSocket subprotocol name for protocol version 2 (`Sec-WebSocket-Protocol`). */
export const SUBPROTOCOL = 'frws.v2'

const SUBPROTOCOL_PREFIX = 'frws.v'

/** The subprotocol name for a protocol version, e.g. `frws.v2` for 2. */
export function subprotocolFor (version: number): string {
  return SUBPROTOCOL_PREFIX + version
}

/**
 * The protocol version a subprotocol name stands for, or `undefined` when the name is not of the
 * form `frws.v<positive integer>`.
 */
export function versionOfSubprotocol (name: string): number | undefined {
  if (!name.startsWith(SUBPROTOCOL_PREFIX)) return undefined
  const digits = name.slice(SUBPROTOCOL_PREFIX.length)
  if (!/^[1-9][0-9]{0,5}$/.test(digits)) return undefined
  return Number(digits)
}

/**
 * Pick the subprotocol the server selects from those the client offered: the newest supported
 * `frws.v<N>`, or `false` to select none. Fits `ws`'s `handleProtocols` option.
 *
 * Selecting none is not a refusal: the version is decided by the hello frame, and a mismatch is
 * reported with close code 4426, which a browser can see (an HTTP refusal shows up as a bare 1006).
 */
export function selectSubprotocol (offered: Iterable<string>): string | false {
  let best: number | undefined
  for (const name of offered) {
    const version = versionOfSubprotocol(name)
    if (version !== undefined && SUPPORTED_VERSIONS.includes(version) && (best === undefined || version > best)) {
      best = version
    }
  }
  return best === undefined ? false : subprotocolFor(best)
}

/** True when this package speaks the given protocol version. */
export function isSupportedVersion (version: number): boolean {
  return SUPPORTED_VERSIONS.includes(version)
}

/**
 * The subprotocol a reliable route answers with (docs/PROTOCOL.md [R-TR-2]): the newest
 * `frws.v<N>` the server speaks among those offered; when the client offered only versions the
 * server does not speak, the newest of those, so that the upgrade completes and the hello is
 * answered with 4426 and the supported versions (a client that offered subprotocols and got none
 * back fails the handshake, browsers and `ws` alike, and would only see a 1006); `false` when no
 * `frws.v<N>` was offered. A name of another form is never selected.
 */
export function answerSubprotocol (offered: Iterable<string>): string | false {
  const spoken = selectSubprotocol(offered)
  if (spoken !== false) return spoken
  let newest: number | undefined
  for (const name of offered) {
    const version = versionOfSubprotocol(name)
    if (version !== undefined && (newest === undefined || version > newest)) newest = version
  }
  return newest === undefined ? false : subprotocolFor(newest)
}
