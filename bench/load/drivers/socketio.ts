import { io } from 'socket.io-client'
import type { Socket } from 'socket.io-client'
import { ECHO_EVENT } from '../../lib/target-protocol.js'
import { corkUntilNextTick, transportOf } from '../../../lib/write-batcher.js'
import type { EchoDriver } from './driver.js'

function connectSocketIo (port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: 10_000
    })
    socket.once('connect', () => {
      socket.off('connect_error', reject)
      resolve(socket)
    })
    socket.once('connect_error', reject)
  })
}

/** The TCP stream under Socket.IO's WebSocket transport, to cork it like the `ws` driver does. */
function socketIoTransport (socket: Socket): ReturnType<typeof transportOf> {
  const engine = (socket.io as unknown as { engine?: { transport?: { ws?: object } } }).engine
  return transportOf(engine?.transport?.ws)
}

/** Driver for the Socket.IO echo target: emit `echo`, count `echo` events coming back. */
export const socketIoDriver: EchoDriver = async (port, events) => {
  const socket = await connectSocketIo(port)
  socket.on(ECHO_EVENT, () => events.reply(1))
  socket.on('disconnect', events.close)
  const transport = socketIoTransport(socket)
  return {
    send (payload, count) {
      corkUntilNextTick(transport)
      for (let i = 0; i < count; i++) socket.emit(ECHO_EVENT, payload)
    },
    close () {
      socket.disconnect()
    }
  }
}

/** Driver for the Socket.IO acknowledgement target: emit `echo` with a callback, count callbacks. */
export const socketIoAckDriver: EchoDriver = async (port, events) => {
  const socket = await connectSocketIo(port)
  socket.on('disconnect', events.close)
  const transport = socketIoTransport(socket)
  const acknowledged = (): void => events.reply(1)
  return {
    send (payload, count) {
      corkUntilNextTick(transport)
      for (let i = 0; i < count; i++) socket.emit(ECHO_EVENT, payload, acknowledged)
    },
    close () {
      socket.disconnect()
    }
  }
}
