/**
 * Decoding, validating and encoding of typed messages, shared by the server and the client (no
 * Node imports, kept small for the browser bundle). Validation is synchronous only: a schema
 * whose `validate` returns a promise (an async refinement) is refused, because a message's
 * delivery must not wait behind another's validation nor be reordered (README, "Typed messages").
 */
import { jsonCodec, type MessageCodec } from './codec.js'
import type { StandardSchemaV1 } from './standard-schema.js'
import type { InvalidMessage, MessageSchemas } from './types.js'

/** A value that failed: what the `invalid` event and the coded errors report (`kind` is set by the caller). */
export type Problem = Omit<InvalidMessage, 'kind'>

/**
 * The outcome of {@link decodeIncoming} and {@link encodeOutgoing}. `async` is true when the schema
 * answered with a promise: a bug of the application, not of the peer.
 */
export type Checked<T> = { ok: true, value: T } | { ok: false, problem: Problem, async?: true }

/** The path of an issue as `a.b[0]`, or `(root)`. */
export function formatPath (path: StandardSchemaV1.Issue['path']): string {
  let text = ''
  for (const segment of path ?? []) {
    const key = typeof segment === 'object' ? segment.key : segment
    text += typeof key === 'number' ? `[${key}]` : `${text === '' ? '' : '.'}${String(key)}`
  }
  return text === '' ? '(root)' : text
}

/** "at <path>: <message>", the words of close reasons, error responses and coded errors. */
export function describeProblem (problem: Problem): string {
  return `at ${problem.path}: ${problem.message}`
}

function failed (path: string, error: unknown): { ok: false, problem: Problem } {
  return { ok: false, problem: { path, message: error instanceof Error ? error.message : String(error), issues: [] } }
}

/** Validate `value` against `schema` (none: the value passes as it is). */
export function validate (schema: StandardSchemaV1 | undefined, value: unknown): Checked<unknown> {
  if (schema === undefined) return { ok: true, value }
  let result
  // A schema that throws fails the value like one that reports issues (on the client, a throw
  // from a socket listener would end the process).
  try {
    result = schema['~standard'].validate(value)
  } catch (error) {
    return failed('(schema)', error)
  }
  if (result instanceof Promise) {
    result.catch(() => {})
    return { ...failed('(schema)', 'the schema validated asynchronously (unsupported)'), async: true }
  }
  if (result.issues !== undefined) {
    const first = result.issues[0]
    return { ok: false, problem: { path: formatPath(first?.path), message: first?.message ?? 'invalid', issues: result.issues } }
  }
  return { ok: true, value: result.value }
}

/** Decode a received payload with the codec, then validate it. */
export function decodeIncoming (codec: MessageCodec, schema: StandardSchemaV1 | undefined, payload: string | Uint8Array): Checked<unknown> {
  let value: unknown
  try {
    value = codec.decode(payload)
  } catch (error) {
    return failed('(decode)', error)
  }
  return validate(schema, value)
}

/** Validate a value to send, then encode the schema's output with the codec. */
export function encodeOutgoing (codec: MessageCodec, schema: StandardSchemaV1 | undefined, value: unknown): Checked<string | Uint8Array> {
  const checked = validate(schema, value)
  if (!checked.ok) return checked
  let payload: unknown
  try {
    payload = codec.encode(checked.value)
  } catch (error) {
    return failed('(encode)', error)
  }
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) return failed('(encode)', 'not a string or Uint8Array')
  return { ok: true, value: payload }
}

/** The schemas of a route or client with the codec resolved: what both sides run with. */
export interface ResolvedMessages {
  readonly codec: MessageCodec
  readonly fromClient: StandardSchemaV1 | undefined
  readonly fromServer: StandardSchemaV1 | undefined
  readonly clientRequest: StandardSchemaV1 | undefined
  readonly clientResponse: StandardSchemaV1 | undefined
  readonly serverRequest: StandardSchemaV1 | undefined
  readonly serverResponse: StandardSchemaV1 | undefined
}

function isSchema (value: unknown): boolean {
  const standard = (value as Partial<StandardSchemaV1> | null)?.['~standard']
  return standard?.version === 1 && typeof standard.validate === 'function'
}

/** Where each schema sits in the option, in the order of {@link ResolvedMessages}. */
const SCHEMA_PATHS = [
  'fromClient', 'fromServer',
  'requests.fromClient.request', 'requests.fromClient.response', 'requests.fromServer.request', 'requests.fromServer.response'
]

/**
 * Check the `messages` option and resolve its codec. Returns the name of the first bad entry and
 * what it should be instead of throwing, so that each side throws its own coded error.
 */
export function resolveMessages (messages: MessageSchemas, name: string): ResolvedMessages | { bad: string, expected: string, value: unknown } {
  const schemas = SCHEMA_PATHS.map((path) => path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], messages))
  for (let index = 0; index < schemas.length; index++) {
    const value = schemas[index]
    if (value !== undefined && !isSchema(value)) return { bad: `${name}.${SCHEMA_PATHS[index]}`, expected: 'a Standard Schema v1 schema', value }
  }
  const codec = messages.codec ?? jsonCodec
  if (typeof codec?.encode !== 'function' || typeof codec.decode !== 'function') {
    return { bad: `${name}.codec`, expected: 'an object with encode() and decode()', value: codec }
  }
  const [fromClient, fromServer, clientRequest, clientResponse, serverRequest, serverResponse] = schemas as Array<StandardSchemaV1 | undefined>
  return { codec, fromClient, fromServer, clientRequest, clientResponse, serverRequest, serverResponse }
}
