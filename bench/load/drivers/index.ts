import type { EchoDriver } from './driver.js'
import { socketIoAckDriver, socketIoDriver } from './socketio.js'
import { wsFramesDriver } from './ws-frames.js'
import { reliableDriver } from './reliable.js'
import { reliableClientDriver } from './reliable-client.js'
import { wsClientDriver } from './ws-client.js'

export type { EchoDriver, EchoEvents, EchoLink } from './driver.js'

/**
 * Echo drivers by name, as bench/lib/catalog.ts refers to them: frame-level writers that measure
 * the server (`ws-frames`, `reliable`), and real clients that measure what applications run
 * (`ws-client`, `reliable-client`, Socket.IO). A new client protocol adds its driver file here.
 */
export const DRIVERS: Readonly<Record<string, EchoDriver>> = {
  'ws-frames': wsFramesDriver,
  socketio: socketIoDriver,
  'socketio-ack': socketIoAckDriver,
  'ws-client': wsClientDriver,
  reliable: reliableDriver,
  'reliable-client': reliableClientDriver
}
