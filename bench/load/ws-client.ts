import WebSocket from 'ws'
import { ECHO_PATH } from '../lib/target-protocol.js'

/** Zero masking key: `ws` then skips masking (see frames/frame-codec.ts for why that is valid). */
function zeroMask (mask: Buffer): void {
  mask.fill(0)
}

function ignore (): void {}

/** Options of the `ws` clients of the idle load. */
const CLIENT_OPTIONS: WebSocket.ClientOptions = {
  perMessageDeflate: false,
  skipUTF8Validation: true,
  generateMask: zeroMask,
  handshakeTimeout: 10_000
}

/** Open a `ws` client on `path` of the target on 127.0.0.1:`port` and wait for the open event. */
export function openWs (port: number, path = ECHO_PATH): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`, CLIENT_OPTIONS)
    socket.once('open', () => {
      socket.off('error', reject)
      // A reset at teardown must not crash the load process.
      socket.on('error', ignore)
      resolve(socket)
    })
    socket.once('error', reject)
  })
}
