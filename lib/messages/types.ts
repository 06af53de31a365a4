/**
 * The `messages` option of a route and of the client, and the types both sides derive from it.
 * Types only: no Node imports, nothing at run time.
 */
import type { MessageCodec } from './codec.js'
import type { StandardSchemaV1 } from './standard-schema.js'

/** The schemas of one kind of request: what the requester sends and what the answer must be. */
export interface RequestSchemas {
  /** The request payload. */
  request?: StandardSchemaV1
  /** The response payload. */
  response?: StandardSchemaV1
}

/**
 * The schemas of a route's messages (Standard Schema v1: Zod, Valibot, ArkType...). Named by who
 * sends them, so that the server and the client take the very same object. A missing schema
 * means "not validated" (typed `unknown`); the codec still applies to every message of the route.
 */
export interface MessageSchemas {
  /** Data messages the client sends (`message` event on the server, `send()` on the client). */
  fromClient?: StandardSchemaV1
  /** Data messages the server sends (`send()` and `broadcast()` on the server, `message` event on the client). */
  fromServer?: StandardSchemaV1
  /** Reliable routes: requests and their responses, by who asks. */
  requests?: {
    /** Requests the client sends (`client.request()`), answered by the server's `request` listener. */
    fromClient?: RequestSchemas
    /** Requests the server sends (`connection.request()`), answered by the client's `onRequest`. */
    fromServer?: RequestSchemas
  }
  /** How values become frames. @default JSON in text frames ({@link jsonCodec}) */
  codec?: MessageCodec
}

/** What a received message is once validated: the schema's output, or `unknown` without a schema. */
export type Received<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : unknown
/** What a sender passes: the schema's input, or `unknown` without a schema. */
export type Sendable<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferInput<S> : unknown

type RequestsOf<M extends MessageSchemas, Who extends 'fromClient' | 'fromServer'> =
  NonNullable<NonNullable<M['requests']>[Who]>
type Part<R, K extends keyof RequestSchemas> = R extends RequestSchemas ? R[K] : undefined

/** The payload types of one side of a connection: what it receives and what it may send. */
export interface MessageTypes {
  /** A data message received (`message` event). */
  message: unknown
  /** What `send()` accepts. */
  send: unknown
  /** A request received (`request` event or `onRequest`). */
  request: unknown
  /** What answers a received request. */
  respond: unknown
  /** What `request()` accepts. */
  requestOut: unknown
  /** What `request()` resolves with. */
  response: unknown
}

/** The server's side of a route with schemas `M`. */
export interface ServerMessageTypes<M extends MessageSchemas> extends MessageTypes {
  message: Received<M['fromClient']>
  send: Sendable<M['fromServer']>
  request: Received<Part<RequestsOf<M, 'fromClient'>, 'request'>>
  respond: Sendable<Part<RequestsOf<M, 'fromClient'>, 'response'>>
  requestOut: Sendable<Part<RequestsOf<M, 'fromServer'>, 'request'>>
  response: Received<Part<RequestsOf<M, 'fromServer'>, 'response'>>
}

/** The client's side of a route with schemas `M`. */
export interface ClientMessageTypes<M extends MessageSchemas> extends MessageTypes {
  message: Received<M['fromServer']>
  send: Sendable<M['fromClient']>
  request: Received<Part<RequestsOf<M, 'fromServer'>, 'request'>>
  respond: Sendable<Part<RequestsOf<M, 'fromServer'>, 'response'>>
  requestOut: Sendable<Part<RequestsOf<M, 'fromClient'>, 'request'>>
  response: Received<Part<RequestsOf<M, 'fromClient'>, 'response'>>
}

/** What the `invalid` event reports: a received message that failed its schema or its codec. */
export interface InvalidMessage {
  /** What failed: a data message, a request (answered with an error response) or a response. */
  kind: 'message' | 'request' | 'response'
  /** The first failing path (`items[2].price`), `(root)` for the value itself, `(decode)` when the codec failed, `(schema)` when the schema threw or validated asynchronously. */
  path: string
  /** The first issue's message, or the codec's error message. */
  message: string
  /** Every issue, as the schema reported them (empty when the codec failed). */
  issues: ReadonlyArray<StandardSchemaV1.Issue>
}
