/**
 * Default settings of reliable mode shared by the server and the client; docs/PROTOCOL.md explains
 * each choice.
 *
 * This module must stay free of Node-only imports: the browser client bundles it.
 */

/**
 * Longest time a receiver holds back a cumulative ack after delivering a message, in ms.
 * Bounds how long an awaited `send()` waits on a quiet connection (round trip + 20 ms); under load
 * the count trigger fires first, so at most 50 acks per second come from this trigger.
 * @default 20
 */
export const DEFAULT_ACK_INTERVAL = 20

/**
 * Number of delivered but unacknowledged messages after which a receiver acks at once.
 * One ack per 64 data frames is under 2 % of frames; it must stay well below the sender's
 * `maxUnacked` so a sender streaming at full speed never fills its buffer between acks.
 * @default 64
 */
export const DEFAULT_ACK_EVERY = 64

/**
 * Most messages a sender keeps unacknowledged (sent, or waiting for a reconnect) per session.
 * @default 4096
 */
export const DEFAULT_MAX_UNACKED = 4096

/**
 * Most bytes of encoded frames a sender keeps unacknowledged per session (Centrifugo cuts a slow
 * client at a 1 MiB queue; SignalR's buffer is 100,000 bytes).
 * @default 1048576
 */
export const DEFAULT_MAX_UNACKED_BYTES = 1024 * 1024

/**
 * Time the server waits from the upgrade for the hello frame, and the client for the welcome
 * frame, in ms (Centrifugo 10 s, SignalR 15 s).
 * @default 10000
 */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000

/**
 * Time a session survives without a connection before it expires, in ms (Socket.IO's connection
 * state recovery window is 2 min).
 * @default 120000
 */
export const DEFAULT_SESSION_TIMEOUT = 120_000
