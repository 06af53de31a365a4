import { ECHO_EVENT } from '../lib/target-protocol.js'
import { serveTarget } from './serve.js'
import { startSocketIo } from './socketio-server.js'

/** Target: Socket.IO echoing every `echo` event back as an `echo` event. Heartbeat mode: default. */
serveTarget((config) => startSocketIo('socketio', config, (socket) => {
  socket.on(ECHO_EVENT, (data: unknown) => { socket.emit(ECHO_EVENT, data) })
}))
