/**
 * `fastify-reliable-ws/client`: the reliable-mode client for browsers and Node >= 20
 * (docs/CLIENT.md). Nothing under lib/client imports Node modules.
 */
export { ReliableClient, type RequestOptions, type SendOptions } from './client.js'
export type { OutgoingData } from './outgoing-data.js'
export type {
  WebSocketConstructor, WebSocketLike, CloseInfo, ResponseData, RequestHandler, UrlSource, ReliableClientOptions
} from './client-options.js'
export type {
  ClientState, ClientEvents, OpenEvent, ResumedEvent, ContinuityLostEvent, ReconnectingEvent, ClientCloseEvent, EndEvent
} from './client-events.js'
export { ClientErrorCode, ReliableClientError, type ClientErrorCodeValue } from './client-errors.js'
export { backoffDelay } from './backoff.js'
export { closeAction, type CloseAction, MAX_PROTOCOL_ERROR_RETRIES, TRY_AGAIN_LATER_DELAY } from './reconnect-policy.js'
export { LATE_TIMER_THRESHOLD } from './liveness.js'
export { CloseCode } from '../protocol/close-codes.js'
export type { UntypedClientMessages, ClientTypesOf } from './client-options.js'
export { jsonCodec, type MessageCodec } from '../messages/codec.js'
export type { MessageSchemas, RequestSchemas, InvalidMessage, MessageTypes, ClientMessageTypes } from '../messages/types.js'
export type { StandardSchemaV1 } from '../messages/standard-schema.js'
