/**
 * A listening app with one reliable route at /r for the tests of lib/reliable that need to see
 * the server's log lines, its connections and their session events.
 */
import type { FastifyRequest } from 'fastify'
import type { FastifyReliableWsOptions, ReliableConnection, WsRouteOptions } from '../../lib/index.js'
import { openPeer } from '../helpers/protocol-peer.js'
import type { PeerOptions, ProtocolPeer } from '../helpers/protocol-peer.js'
import { buildApp, captureLogs, listen } from '../helpers/server.js'
import type { LogLine } from '../helpers/server.js'

export interface ReliableServer {
  url: string
  /** Every log line at debug and above, parsed. */
  logs: LogLine[]
  /** Every connection the handler ran for, in order. */
  connections: ReliableConnection[]
  /** Events of every connection, in order: `suspend`, `resume`, `close:<cause>`. */
  events: string[]
  /** Open a peer to /r; {@link ReliableServer.stop} terminates it. */
  peer: (options?: PeerOptions) => Promise<ProtocolPeer>
  /** TCP connections the server holds open (upgraded sockets included). */
  openSockets: () => Promise<number>
  stop: () => Promise<void>
}

/**
 * Start the app. The handler records each connection and its events, then runs `setup` (by
 * default an echo of every message) and returns what it returns.
 */
export async function startReliableServer (
  routeOptions: WsRouteOptions, pluginOptions: FastifyReliableWsOptions = {},
  setup: (connection: ReliableConnection, request: FastifyRequest) => void | Promise<void> = (connection) => {
    connection.on('message', (data) => { void connection.send(data) })
  }
): Promise<ReliableServer> {
  const { stream, lines } = captureLogs()
  const connections: ReliableConnection[] = []
  const events: string[] = []
  const app = await buildApp(pluginOptions, (app) => {
    app.wsRoute('/r', routeOptions, (connection, request) => {
      const reliable = connection as ReliableConnection
      connections.push(reliable)
      connection.on('suspend', () => events.push('suspend'))
      connection.on('resume', () => events.push('resume'))
      connection.on('close', (info) => events.push(`close:${info.cause}`))
      return setup(reliable, request)
    })
  }, { logger: { level: 'debug', stream } })
  const base = await listen(app)
  const peers: ProtocolPeer[] = []
  return {
    url: `${base}/r`,
    logs: lines,
    connections,
    events,
    async peer (options) {
      const peer = await openPeer(`${base}/r`, options)
      peers.push(peer)
      return peer
    },
    openSockets: () => new Promise((resolve, reject) => {
      app.server.getConnections((error, count) => { if (error === null) resolve(count); else reject(error) })
    }),
    async stop () {
      for (const peer of peers) peer.terminate()
      await app.close()
    }
  }
}
