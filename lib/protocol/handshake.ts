/**
 * The handshake frames of reliable mode: hello (client to server) and welcome (server to client).
 * They are rare, so they travel as `H` or `W` followed by a JSON object (docs/PROTOCOL.md, "hello"
 * and "welcome"). Unknown JSON fields are ignored so that version 2 can grow optional fields.
 *
 * This module must stay free of Node-only imports: the browser client bundles it.
 */
import { CloseCode } from './close-codes.js'
// A cycle with frames.ts, used only at call time: frames.ts decodes hello/welcome with this module.
import { utf8Length } from './frames.js'
import { ProtocolError } from './protocol-error.js'
import { SUPPORTED_VERSIONS, isSupportedVersion } from './version.js'

/** Longest hello or welcome frame, in bytes of UTF-8 (type letter included); a longer one closes the connection with 1009 ([R-HS-4]). */
export const MAX_HANDSHAKE_FRAME_LENGTH = 4096

const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/
const EPOCH_PATTERN = /^[A-Za-z0-9_-]{1,64}$/
// 22 base64url characters carry 132 bits: a token shorter than that cannot hold 128 random bits.
const RESUME_TOKEN_PATTERN = /^[A-Za-z0-9_-]{22,128}$/

/** True when `id` is a well-formed session id: 1 to 128 characters of `A-Z a-z 0-9 _ -`. */
export function isValidSessionId (id: unknown): id is string {
  return typeof id === 'string' && SESSION_ID_PATTERN.test(id)
}

/** True when `epoch` is a well-formed epoch: 1 to 64 characters of `A-Z a-z 0-9 _ -`. */
export function isValidEpoch (epoch: unknown): epoch is string {
  return typeof epoch === 'string' && EPOCH_PATTERN.test(epoch)
}

/**
 * True when `token` is a well-formed resume token: 22 to 128 characters of `A-Z a-z 0-9 _ -`
 * (the server issues 43: 32 random bytes in base64url).
 */
export function isValidResumeToken (token: unknown): token is string {
  return typeof token === 'string' && RESUME_TOKEN_PATTERN.test(token)
}

/** Where a client stands in a session it wants to resume. */
export interface ResumePosition {
  /** The session id from the last welcome. */
  sessionId: string
  /** The epoch from the last welcome. */
  epoch: string
  /** The highest server seq the client delivered to its application (0 when none). */
  delivered: number
  /** The resume token from the last welcome; each welcome replaces it, an older one is refused with 4403. */
  token: string
}

/** The body of a hello frame. */
export interface Hello {
  /** Protocol version the client speaks. */
  version: number
  /** Present when the client wants to resume a session. */
  resume?: ResumePosition
}

/** The body of a welcome frame. */
export interface Welcome {
  /** Protocol version of this connection (the hello's). */
  version: number
  /** Session id; the client presents it when it resumes. */
  sessionId: string
  /** Epoch of the session; the client presents it when it resumes. */
  epoch: string
  /**
   * The secret the client presents with its next resume (`resume.token`). A new one on every
   * welcome; the previous one no longer works. Never put it in a URL or a log.
   */
  resumeToken: string
  /** True when the session of the hello's `resume` continues; false for a new session. */
  resumed: boolean
  /** The highest client seq the server delivered to its application (0 when none); the client replays what follows. */
  delivered: number
  /** Idle time after which the client sends a ping, in ms; 0 means the client must not ping. */
  pingInterval: number
  /** Time the client waits for any frame after a ping before it drops the connection, in ms. */
  pongTimeout: number
  /** Longest time the client may hold back an ack after a delivery, in ms. */
  ackInterval: number
  /** Most delivered messages the client may leave unacknowledged. */
  ackEvery: number
  /** Largest frame the server accepts, in bytes (header included); a larger one closes with 1009. */
  maxPayload: number
  /** Most messages the server keeps unacknowledged for this session. */
  maxUnacked: number
  /** Most bytes of frames the server keeps unacknowledged for this session. */
  maxUnackedBytes: number
  /** Time the session survives without a connection, in ms. */
  sessionTimeout: number
}

function bad (message: string): ProtocolError {
  return new ProtocolError(CloseCode.BAD_MESSAGE, message)
}

function parseObject (text: string, name: string): Record<string, unknown> {
  if (text.length > MAX_HANDSHAKE_FRAME_LENGTH || utf8Length(text) > MAX_HANDSHAKE_FRAME_LENGTH) {
    throw new ProtocolError(CloseCode.MESSAGE_TOO_BIG, `${name} frame exceeds ${MAX_HANDSHAKE_FRAME_LENGTH} bytes`)
  }
  let value: unknown
  try {
    value = JSON.parse(text.slice(1))
  } catch {
    throw bad(`${name} frame is not valid JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(`${name} frame must be a JSON object`)
  }
  return value as Record<string, unknown>
}

function integer (object: Record<string, unknown>, key: string, min: number, name: string): number {
  const value = object[key]
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw bad(`${name}.${key} must be an integer >= ${min}`)
  }
  return value
}

function version (object: Record<string, unknown>, name: string): number {
  const value = integer(object, 'version', 1, name)
  if (!isSupportedVersion(value)) {
    throw new ProtocolError(CloseCode.UNSUPPORTED_VERSION,
      `unsupported protocol version ${value} (supported: ${SUPPORTED_VERSIONS.join(', ')})`)
  }
  return value
}

function sessionFields (object: Record<string, unknown>, name: string): { sessionId: string, epoch: string } {
  const { sessionId, epoch } = object
  if (!isValidSessionId(sessionId)) throw bad(`${name}.sessionId must be 1 to 128 characters of A-Z a-z 0-9 _ -`)
  if (!isValidEpoch(epoch)) throw bad(`${name}.epoch must be 1 to 64 characters of A-Z a-z 0-9 _ -`)
  return { sessionId, epoch }
}

/**
 * Parse and validate a hello frame (`H` followed by JSON).
 * @throws {ProtocolError} 4400 when malformed, 4426 for an unsupported version, 1009 when too long
 */
export function parseHello (text: string): Hello {
  const object = parseObject(text, 'hello')
  // The version is checked before anything else: another version may shape its fields differently.
  const hello: Hello = { version: version(object, 'hello') }
  const resume = object.resume
  if (resume === undefined) return hello
  if (typeof resume !== 'object' || resume === null || Array.isArray(resume)) {
    throw bad('hello.resume must be an object when present')
  }
  const fields = resume as Record<string, unknown>
  const { sessionId, epoch } = sessionFields(fields, 'hello.resume')
  const delivered = integer(fields, 'delivered', 0, 'hello.resume')
  if (!isValidResumeToken(fields.token)) throw bad('hello.resume.token must be 22 to 128 characters of A-Z a-z 0-9 _ -')
  hello.resume = { sessionId, epoch, delivered, token: fields.token }
  return hello
}

/**
 * Parse and validate a welcome frame (`W` followed by JSON).
 * @throws {ProtocolError} 4400 when malformed, 4426 for an unsupported version, 1009 when too long
 */
export function parseWelcome (text: string): Welcome {
  const object = parseObject(text, 'welcome')
  const welcomeVersion = version(object, 'welcome')
  const { sessionId, epoch } = sessionFields(object, 'welcome')
  if (!isValidResumeToken(object.resumeToken)) throw bad('welcome.resumeToken must be 22 to 128 characters of A-Z a-z 0-9 _ -')
  if (typeof object.resumed !== 'boolean') throw bad('welcome.resumed must be a boolean')
  return {
    version: welcomeVersion,
    sessionId,
    epoch,
    resumeToken: object.resumeToken,
    resumed: object.resumed,
    delivered: integer(object, 'delivered', 0, 'welcome'),
    pingInterval: integer(object, 'pingInterval', 0, 'welcome'),
    pongTimeout: integer(object, 'pongTimeout', 0, 'welcome'),
    ackInterval: integer(object, 'ackInterval', 0, 'welcome'),
    ackEvery: integer(object, 'ackEvery', 1, 'welcome'),
    maxPayload: integer(object, 'maxPayload', 1, 'welcome'),
    maxUnacked: integer(object, 'maxUnacked', 1, 'welcome'),
    maxUnackedBytes: integer(object, 'maxUnackedBytes', 1, 'welcome'),
    sessionTimeout: integer(object, 'sessionTimeout', 0, 'welcome')
  }
}

/** Encode a hello frame. */
export function encodeHello (hello: Hello): string {
  const body: Hello = { version: hello.version }
  if (hello.resume !== undefined) {
    const { sessionId, epoch, delivered, token } = hello.resume
    body.resume = { sessionId, epoch, delivered, token }
  }
  return 'H' + JSON.stringify(body)
}

/** Encode a welcome frame. */
export function encodeWelcome (welcome: Welcome): string {
  const body: Welcome = {
    version: welcome.version,
    sessionId: welcome.sessionId,
    epoch: welcome.epoch,
    resumeToken: welcome.resumeToken,
    resumed: welcome.resumed,
    delivered: welcome.delivered,
    pingInterval: welcome.pingInterval,
    pongTimeout: welcome.pongTimeout,
    ackInterval: welcome.ackInterval,
    ackEvery: welcome.ackEvery,
    maxPayload: welcome.maxPayload,
    maxUnacked: welcome.maxUnacked,
    maxUnackedBytes: welcome.maxUnackedBytes,
    sessionTimeout: welcome.sessionTimeout
  }
  return 'W' + JSON.stringify(body)
}
