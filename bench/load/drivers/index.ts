import type { EchoDriver } from './driver.js'
import { socketIoAckDriver, socketIoDriver } from './socketio.js'
import { wsFramesDriver } from './ws-frames.js'
import { reliableDriver } from './reliable.js'

export type { EchoDriver, EchoEvents, EchoLink } from './driver.js'

/**
 * Echo drivers by name, as bench/lib/catalog.ts refers to them. A new client protocol (the
 * reliable-mode client) adds its driver file here.
 */
export const DRIVERS: Readonly<Record<string, EchoDriver>> = {
  'ws-frames': wsFramesDriver,
  socketio: socketIoDriver,
  'socketio-ack': socketIoAckDriver,
  reliable: reliableDriver
}
