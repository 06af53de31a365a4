import { ECHO_EVENT } from '../lib/target-protocol.js'
import { serveTarget } from './serve.js'
import { startSocketIo } from './socketio-server.js'

/** Target: Socket.IO answering every `echo` event through its acknowledgement callback. Heartbeat mode: default. */
serveTarget((config) => startSocketIo('socketio-acks', config, (socket) => {
  socket.on(ECHO_EVENT, (data: unknown, ack: (reply: unknown) => void) => { ack(data) })
}))
