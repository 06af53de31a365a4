import WebSocket from 'ws'
import { PUBLISH_PATH, ROOM_PATH } from './paths.js'

/** Which server the members and the publisher talk to. */
export type BroadcastSystem = 'plugin' | 'socketio'

/** Settings of one broadcast measurement. */
export interface BroadcastJob {
  system: BroadcastSystem
  /** Ports of the nodes; members spread evenly, the publisher is on the first. */
  ports: number[]
  membersPerNode: number
  /** Broadcasts sent but not yet received by every member, at most. */
  window: number
  payload: string
}

/** Broadcasts every member has received, counted from the start. */
export interface BroadcastCounter {
  completed (): number
  /** Stop publishing and close every socket. */
  stop (): void
}

const RING = 1 << 16
const SOCKET_IO_QUERY = '/socket.io/?EIO=4&transport=websocket'

function url (system: BroadcastSystem, port: number, role: 'member' | 'publisher'): string {
  if (system === 'socketio') return `ws://127.0.0.1:${port}${SOCKET_IO_QUERY}&role=${role}`
  return `ws://127.0.0.1:${port}${role === 'member' ? ROOM_PATH : PUBLISH_PATH}`
}

/**
 * Open a socket and resolve once it can take part: for the plugin, a member once the node said
 * `joined` (it has joined the room), the publisher once open; for Socket.IO (engine.io frames
 * spoken directly, like the plugin's plain `ws` clients), once the namespace CONNECT (`40`) is
 * answered, which the server sends in the same turn as the room join. Engine.io pings (`2`) are
 * answered (`3`). Every later data frame is handed to `onData`.
 */
async function openSocket (system: BroadcastSystem, address: string, onData: () => void): Promise<WebSocket> {
  const socket = new WebSocket(address, { perMessageDeflate: false })
  await new Promise<void>((resolve, reject) => {
    let ready = false
    socket.once('error', reject)
    if (system === 'plugin' && address.endsWith(PUBLISH_PATH)) socket.once('open', () => { ready = true; resolve() })
    socket.on('message', (data: Buffer) => {
      if (system === 'plugin') {
        if (ready) onData()
        else if (String(data) === 'joined') { ready = true; resolve() }
        return
      }
      const type = data[0]
      if (type === 0x34 && data[1] === 0x32) onData() // 42: an event
      else if (type === 0x30) socket.send('40') // 0: engine.io open, then connect to the namespace
      else if (type === 0x34 && data[1] === 0x30) { ready = true; resolve() } // 40: namespace connected
      else if (type === 0x32) socket.send('3')
    })
  })
  return socket
}

/**
 * A closed-loop room broadcast: members on every node count what they receive; one publisher on
 * the first node keeps `window` broadcasts outstanding, sending the next whenever every member
 * has received one more. Messages are counted, not decoded.
 */
export async function startBroadcast (job: BroadcastJob): Promise<BroadcastCounter> {
  const reached = new Uint32Array(RING)
  const members = job.ports.length * job.membersPerNode
  let completed = 0
  let sent = 0
  let running = false
  const sockets: WebSocket[] = []
  const frame = job.system === 'socketio' ? `42${JSON.stringify(['say', job.payload])}` : job.payload
  const link: { publisher?: WebSocket } = {}
  const pump = (): void => {
    const publisher = link.publisher
    if (!running || publisher === undefined) return
    while (sent - completed < job.window) {
      publisher.send(frame)
      sent++
    }
  }
  for (const port of job.ports) {
    for (let i = 0; i < job.membersPerNode; i++) {
      let count = 0
      sockets.push(await openSocket(job.system, url(job.system, port, 'member'), () => {
        count++
        const slot = count & (RING - 1)
        if (++reached[slot] === members) {
          reached[slot] = 0
          completed = count
          pump()
        }
      }))
    }
  }
  link.publisher = await openSocket(job.system, url(job.system, job.ports[0], 'publisher'), () => {})
  sockets.push(link.publisher)
  running = true
  pump()
  return {
    completed: () => completed,
    stop: () => {
      running = false
      for (const socket of sockets) socket.terminate()
    }
  }
}
