import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import type { Socket } from 'node:net'

/** How long the HTTP upgrade may take, in ms. */
const UPGRADE_TIMEOUT = 10_000

/** A TCP socket after a successful WebSocket upgrade, and the bytes that came with the 101 response. */
export interface UpgradedSocket {
  socket: Socket
  head: Buffer
}

/**
 * Perform the RFC 6455 opening handshake on 127.0.0.1:`port` and hand back the bare TCP socket,
 * with Nagle off as `ws` does. No extension is offered, so frames go unchanged both ways. The
 * accept key is not checked: the server is our own, on loopback.
 */
export function openUpgradedSocket (port: number, path: string): Promise<UpgradedSocket> {
  return new Promise((resolve, reject) => {
    const upgrade = request({
      host: '127.0.0.1',
      port,
      path,
      agent: false,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64')
      }
    })
    upgrade.setTimeout(UPGRADE_TIMEOUT, () => upgrade.destroy(new Error(`upgrade took more than ${UPGRADE_TIMEOUT} ms`)))
    upgrade.once('upgrade', (_response, socket, head) => {
      socket.setTimeout(0)
      socket.setNoDelay(true)
      resolve({ socket, head })
    })
    upgrade.once('response', (response) => {
      response.resume()
      reject(new Error(`upgrade refused with HTTP ${response.statusCode}`))
    })
    upgrade.once('error', reject)
    upgrade.end()
  })
}
