import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyReliableWsOptions, ReliableConnection } from '../../lib/index.js'
import { openPeer } from '../helpers/protocol-peer.js'
import type { ProtocolPeer } from '../helpers/protocol-peer.js'
import { buildApp, captureLogs, listen, waitFor } from '../helpers/server.js'
import type { LogLine } from '../helpers/server.js'

/** The bearer token the guarded route's hook accepts. */
export const GOOD_AUTH = { authorization: 'Bearer good' }

/** A listening app with reliable routes of different guards, every log line captured. */
export interface SecurityServer {
  app: FastifyInstance
  /** ws:// base URL, without a path. */
  base: string
  /** Every log line at debug and above, parsed. */
  logs: LogLine[]
  /** Messages delivered to the handlers, by route name (`guarded`, `open`, `room`, `principal`). */
  received: Record<string, string[]>
  /** Every connection a handler ran for, in order. */
  connections: ReliableConnection[]
  /** Events of every session: `<route>:suspend`, `<route>:resume`, `<route>:close:<cause>`. */
  events: string[]
  /** How often the guarded route's hook ran. */
  guardChecks (): number
  /** Open a peer to `path` (e.g. `/guarded`). */
  peer (path: string, headers?: Record<string, string>): Promise<ProtocolPeer>
  /** Wait until the session events include `event`. */
  waitForEvent (event: string): Promise<void>
  stop (): Promise<void>
}

/**
 * Routes: `/guarded` (an auth hook answers 401 without {@link GOOD_AUTH}; no `principal` option),
 * `/open` (anonymous), `/room/:name` (anonymous, one route pattern for many paths) and
 * `/principal` (principal read from `x-user`).
 */
export async function startSecurityServer (
  reliable: { sessionTimeout?: number } = {}, pluginOptions: FastifyReliableWsOptions = {}
): Promise<SecurityServer> {
  const { stream, lines } = captureLogs()
  const received: Record<string, string[]> = { guarded: [], open: [], room: [], principal: [] }
  const connections: ReliableConnection[] = []
  const events: string[] = []
  let guardChecks = 0
  const record = (name: string) => (connection: ReliableConnection): void => {
    connections.push(connection)
    connection.on('message', (data) => received[name].push(String(data)))
    connection.on('suspend', () => events.push(`${name}:suspend`))
    connection.on('resume', () => events.push(`${name}:resume`))
    connection.on('close', (info) => events.push(`${name}:close:${info.cause}`))
  }
  const guard = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    guardChecks++
    if (request.headers.authorization !== GOOD_AUTH.authorization) await reply.code(401).send({ error: 'unauthorized' })
  }
  const app = await buildApp(pluginOptions, (app) => {
    app.wsRoute('/guarded', { reliable, onRequest: guard }, record('guarded'))
    app.wsRoute('/open', { reliable }, record('open'))
    app.wsRoute('/room/:name', { reliable }, record('room'))
    app.wsRoute('/principal', {
      reliable: { ...reliable, principal: (request) => (request.headers['x-user'] as string | undefined) ?? null }
    }, record('principal'))
  }, { logger: { level: 'debug', stream } })
  const base = await listen(app)
  const peers: ProtocolPeer[] = []
  return {
    app,
    base,
    logs: lines,
    received,
    connections,
    events,
    guardChecks: () => guardChecks,
    async peer (path, headers) {
      const peer = await openPeer(base + path, { headers })
      peers.push(peer)
      return peer
    },
    waitForEvent: (event) => waitFor(() => events.includes(event), `the session event ${event}`, 5000),
    async stop () {
      for (const peer of peers) peer.terminate()
      await app.close()
    }
  }
}
