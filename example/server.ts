/**
 * The echo server: `npm start` (or `node --import tsx example/server.ts`).
 * A WebSocket route echoes every message (text stays text, binary stays binary) and `/` serves a
 * page that connects and echoes. Environment variables configure it (see example/config.ts and
 * the README). SIGINT or SIGTERM closes gracefully: clients get 1001, then the process exits 0.
 */
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import fastifyReliableWs from '../lib/index.js'
import { ConfigError, configFromEnv } from './config.js'
import type { ExampleConfig } from './config.js'

/** Time allowed past `closeTimeout` for the plugin's terminate step and the HTTP server to close, in ms. */
const SHUTDOWN_SLACK = 3000

function fail (message: string): never {
  console.error(message)
  process.exit(1)
}

function loadConfig (): ExampleConfig {
  try {
    return configFromEnv(process.env)
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message)
    throw error
  }
}

function readPem (variable: string, path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (error) {
    fail(`${variable}: cannot read ${JSON.stringify(path)}: ${(error as Error).message}`)
  }
}

function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function createServer (config: ExampleConfig): FastifyInstance {
  const logger = { level: 'info' }
  if (config.tls === undefined) return Fastify({ logger })
  const https = { cert: readPem('TLS_CERT', config.tls.certPath), key: readPem('TLS_KEY', config.tls.keyPath) }
  return Fastify({ logger, https })
}

const config = loadConfig()
const page = readFileSync(new URL('./public/index.html', import.meta.url), 'utf8')
  .replace('%WS_PATH%', escapeHtml(config.wsPath))
const app = createServer(config)

try {
  await app.register(fastifyReliableWs, config.plugin)
} catch (error) {
  // The plugin checks ranges the environment parser does not (e.g. the heartbeat's minimum): same clear exit.
  fail(`Invalid environment: ${(error as Error).message}`)
}

app.wsRoute(config.wsPath, (connection) => {
  connection.log.info({ connectionId: connection.id, remoteAddress: connection.remoteAddress }, 'echo connection opened')
  connection.on('message', (data) => {
    // A string goes back as a text frame, a Buffer as a binary frame.
    void connection.send(data)
  })
  connection.on('close', ({ code, reason, cause }) => {
    connection.log.info({ connectionId: connection.id, code, reason, cause }, 'echo connection closed')
  })
})

app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(page))

let shuttingDown = false

async function shutdown (signal: NodeJS.Signals): Promise<void> {
  if (shuttingDown) {
    app.log.warn({ signal }, 'second signal during shutdown: exiting at once')
    process.exit(1)
  }
  shuttingDown = true
  app.log.info({ signal, closeTimeout: config.closeTimeout }, 'shutting down')
  const watchdog = setTimeout(() => {
    app.log.error('shutdown did not finish in time: exiting')
    process.exit(1)
  }, config.closeTimeout + SHUTDOWN_SLACK)
  watchdog.unref()
  try {
    await app.close()
  } catch (error) {
    app.log.error({ err: error }, 'shutdown failed')
    process.exit(1)
  }
  app.log.info('server closed')
  process.exit(0)
}

process.on('SIGINT', (signal) => { void shutdown(signal) })
process.on('SIGTERM', (signal) => { void shutdown(signal) })

try {
  await app.listen({ port: config.port, host: config.host })
} catch (error) {
  app.log.error({ err: error }, 'cannot start the server')
  process.exit(1)
}
