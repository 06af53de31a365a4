/**
 * The example server: `npm start` (or `node --import tsx example/server.ts`).
 * - `WS_PATH` (`/ws`): a plain route that echoes every message (text stays text, binary stays binary);
 * - `/echo`: the same echo on a reliable route; `/` serves a page that uses it with the reliable client;
 * - `/chat`: the reliable chat of example/chat.ts, with its page at `/chat.html`;
 * - `GET /metrics`: the plugin's Prometheus metrics (fastify-reliable-ws/metrics, prom-client).
 * Pages come from example/public and the browser bundle from dist/browser (built when missing),
 * both through @fastify/static. Environment variables configure it (see example/config.ts and
 * the README). SIGINT or SIGTERM closes gracefully: clients get 1001, then the process exits 0.
 */
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import fastifyReliableWs from '../lib/index.js'
import { registerMetrics } from '../lib/metrics/index.js'
import { BROWSER_BUNDLES, buildBrowserBundles } from '../scripts/build-browser.js'
import { registerChat } from './chat.js'
import { ConfigError, RELIABLE_ECHO_PATH, configFromEnv } from './config.js'
import type { ExampleConfig } from './config.js'
import { explainListenError } from './startup-errors.js'

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url))
const BUNDLE_DIR = fileURLToPath(new URL('../dist/browser/', import.meta.url))

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

/** The shipped browser bundle: built by `npm run build`, or here on the first start of a fresh clone. */
async function ensureBrowserBundle (): Promise<void> {
  if (existsSync(BUNDLE_DIR + BROWSER_BUNDLES.esm)) return
  try {
    await buildBrowserBundles()
  } catch (error) {
    fail(`Cannot build the browser bundle (run npm run build): ${(error as Error).message}`)
  }
}

const config = loadConfig()
const page = readFileSync(new URL('./echo.html', import.meta.url), 'utf8')
  .replace('%WS_PATH%', escapeHtml(config.wsPath))
  .replace('%RELIABLE_PATH%', escapeHtml(RELIABLE_ECHO_PATH))
await ensureBrowserBundle()
const app = createServer(config)

try {
  await app.register(fastifyReliableWs, config.plugin)
} catch (error) {
  // The plugin checks ranges the environment parser does not (e.g. the heartbeat's minimum): same clear exit.
  fail(`Invalid environment: ${(error as Error).message}`)
}

/** Echo: a string goes back as a text frame, a Buffer as a binary frame. */
function echo (connection: { send: (data: string | Buffer) => Promise<void> }, data: string | Buffer): void {
  void connection.send(data)
}

app.wsRoute(config.wsPath, (connection) => {
  connection.log.info({ connectionId: connection.id, remoteAddress: connection.remoteAddress }, 'echo connection opened')
  connection.on('message', (data) => echo(connection, data))
  connection.on('close', ({ code, reason, cause }) => {
    connection.log.info({ connectionId: connection.id, code, reason, cause }, 'echo connection closed')
  })
})

app.wsRoute(RELIABLE_ECHO_PATH, { reliable: true }, (connection) => {
  connection.on('message', (data) => echo(connection, data))
  connection.on('suspend', ({ code }) => connection.log.info({ connectionId: connection.id, code }, 'reliable echo: waiting for the client'))
  connection.on('resume', () => connection.log.info({ connectionId: connection.id }, 'reliable echo: resumed'))
})

registerChat(app)

const metrics = new Registry()
registerMetrics(app, { registry: metrics })
app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()))

await app.register(fastifyStatic, { root: PUBLIC_DIR, index: false })
await app.register(fastifyStatic, { root: BUNDLE_DIR, prefix: '/client/', decorateReply: false })
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
  fail(explainListenError(error, config))
}
