import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { get as httpsGet } from 'node:https'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import fastifyReliableWs from '../lib/index.js'
import { ConfigError, configFromEnv } from '../example/config.js'
import type { ExampleEnv } from '../example/config.js'
import WebSocket from 'ws'
import { ReliableClient } from '../lib/client/index.js'
import { nextClientEvent } from './helpers/reliable-pair.js'
import { closed, connect, nextMessage, waitFor, withExpiry } from './helpers/server.js'
import { hasOpenssl, makeTestCertificate } from './helpers/tls.js'
import type { TestCertificate } from './helpers/tls.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** Short, so the shutdown test stays quick; the bound below is what the test asserts. */
const CLOSE_TIMEOUT = 2000
/** Beyond CLOSE_TIMEOUT: the plugin's terminate step, the HTTP server's close and process exit. A correctness bound, not a speed claim. */
const EXIT_SLACK = 4000
/** Starting `tsx` and compiling the example can take a while on a loaded machine. */
const STARTUP_TIMEOUT = 30_000

describe('configFromEnv', () => {
  test('with an empty environment it returns the documented defaults', () => {
    assert.deepEqual(configFromEnv({}), {
      port: 3000,
      host: '127.0.0.1',
      wsPath: '/ws',
      closeTimeout: 5000,
      tls: undefined,
      plugin: { closeTimeout: 5000 }
    })
  })

  test('blank values count as unset', () => {
    assert.deepEqual(configFromEnv({ PORT: '', HOST: '  ', ALLOWED_ORIGINS: '' }), configFromEnv({}))
  })

  test('PORT, HOST and WS_PATH set where the server listens and the route path', () => {
    const config = configFromEnv({ PORT: '8080', HOST: '0.0.0.0', WS_PATH: '/echo/v1' })
    assert.equal(config.port, 8080)
    assert.equal(config.host, '0.0.0.0')
    assert.equal(config.wsPath, '/echo/v1')
    assert.equal(configFromEnv({ PORT: '0' }).port, 0)
  })

  test('ALLOWED_ORIGINS becomes the list of exact origins, or "*" on its own', () => {
    assert.deepEqual(
      configFromEnv({ ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:8080,' }).plugin.origins,
      ['https://app.example.com', 'http://localhost:8080']
    )
    assert.equal(configFromEnv({ ALLOWED_ORIGINS: '*' }).plugin.origins, '*')
  })

  test('CLOSE_TIMEOUT_MS and MAX_PAYLOAD reach the plugin options', () => {
    const config = configFromEnv({ CLOSE_TIMEOUT_MS: '0', MAX_PAYLOAD: '65536' })
    assert.equal(config.closeTimeout, 0)
    assert.deepEqual(config.plugin, { closeTimeout: 0, maxPayload: 65536 })
  })

  test('TLS_CERT and TLS_KEY together turn on TLS', () => {
    assert.deepEqual(configFromEnv({ TLS_CERT: '/etc/cert.pem', TLS_KEY: '/etc/key.pem' }).tls, {
      certPath: '/etc/cert.pem',
      keyPath: '/etc/key.pem'
    })
  })

  test('HEARTBEAT_INTERVAL_MS and HEARTBEAT_TIMEOUT_MS become heartbeat.pingInterval and heartbeat.pongTimeout', () => {
    assert.deepEqual(
      configFromEnv({ HEARTBEAT_INTERVAL_MS: '1000', HEARTBEAT_TIMEOUT_MS: '500' }).plugin.heartbeat,
      { pingInterval: 1000, pongTimeout: 500 }
    )
    assert.deepEqual(configFromEnv({ HEARTBEAT_INTERVAL_MS: '1000' }).plugin.heartbeat, { pingInterval: 1000 })
    assert.deepEqual(configFromEnv({ HEARTBEAT_TIMEOUT_MS: '500' }).plugin.heartbeat, { pongTimeout: 500 })
    assert.equal(configFromEnv({}).plugin.heartbeat, undefined)
  })

  const invalid: Array<[ExampleEnv, string]> = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '65536' }, 'PORT'],
    [{ PORT: '-1' }, 'PORT'],
    [{ PORT: '80.5' }, 'PORT'],
    [{ PORT: '0x50' }, 'PORT'],
    [{ WS_PATH: 'ws' }, 'WS_PATH'],
    [{ WS_PATH: '/' }, 'WS_PATH'],
    [{ WS_PATH: '/a b' }, 'WS_PATH'],
    [{ WS_PATH: '/ws?x=1' }, 'WS_PATH'],
    [{ WS_PATH: '/chat' }, 'WS_PATH'],
    [{ WS_PATH: '/echo' }, 'WS_PATH'],
    [{ ALLOWED_ORIGINS: 'app.example.com' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: 'https://app.example.com/path' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: ',' }, 'ALLOWED_ORIGINS'],
    [{ ALLOWED_ORIGINS: '*,https://app.example.com' }, 'ALLOWED_ORIGINS'],
    [{ CLOSE_TIMEOUT_MS: '-5' }, 'CLOSE_TIMEOUT_MS'],
    [{ CLOSE_TIMEOUT_MS: '1e3' }, 'CLOSE_TIMEOUT_MS'],
    [{ MAX_PAYLOAD: '0' }, 'MAX_PAYLOAD'],
    [{ MAX_PAYLOAD: '1mb' }, 'MAX_PAYLOAD'],
    [{ TLS_CERT: '/etc/cert.pem' }, 'TLS_CERT and TLS_KEY'],
    [{ TLS_KEY: '/etc/key.pem' }, 'TLS_CERT and TLS_KEY'],
    [{ HEARTBEAT_INTERVAL_MS: '0' }, 'HEARTBEAT_INTERVAL_MS'],
    [{ HEARTBEAT_TIMEOUT_MS: 'soon' }, 'HEARTBEAT_TIMEOUT_MS']
  ]
  for (const [env, variable] of invalid) {
    test(`${JSON.stringify(env)} is rejected with a ConfigError naming ${variable}`, () => {
      assert.throws(() => configFromEnv(env), (error: unknown) => {
        assert.ok(error instanceof ConfigError)
        assert.equal(error.problems.length, 1)
        assert.ok(error.problems[0].startsWith(`${variable}:`), error.problems[0])
        assert.match(error.message, /^Invalid environment:/)
        return true
      })
    })
  }

  test('every bad variable is reported at once', () => {
    assert.throws(() => configFromEnv({ PORT: 'x', MAX_PAYLOAD: 'y', WS_PATH: 'z' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError)
      assert.deepEqual(error.problems.map((problem) => problem.split(':')[0]), ['PORT', 'WS_PATH', 'MAX_PAYLOAD'])
      return true
    })
  })

  test('the plugin accepts the options built from every variable', async () => {
    const config = configFromEnv({
      ALLOWED_ORIGINS: 'https://app.example.com',
      CLOSE_TIMEOUT_MS: '1000',
      MAX_PAYLOAD: '1024',
      HEARTBEAT_INTERVAL_MS: '1000',
      HEARTBEAT_TIMEOUT_MS: '500'
    })
    const app = Fastify()
    await app.register(fastifyReliableWs, config.plugin)
    await app.ready()
    await app.close()
  })
})

/** A port nobody listens on right now (the example cannot report a port picked by the OS). */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

interface ExampleProcess {
  child: ChildProcess
  /** Everything written to stdout and stderr so far. */
  output: () => string
  /** Resolves with the exit code and signal once the process has exited and its output is read. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Spawn an example script with extra environment variables. */
function spawnExample (script: string, env: ExampleEnv, args: string[] = []): ExampleProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env }
  // The child is not a test file; without this the test runner's context would leak into it.
  delete childEnv.NODE_TEST_CONTEXT
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  // 'close' rather than 'exit': it waits until stdout and stderr are drained, so the output is complete.
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  return { child, output: () => output, exited }
}

/** Resolve once the process has printed `text`; reject if it exits first or takes longer than `ms`. */
function waitForOutput (example: ExampleProcess, text: string, ms: number): Promise<void> {
  return withExpiry(new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (!example.output().includes(text)) return
      example.child.stdout?.off('data', check)
      resolve()
    }
    example.child.stdout?.on('data', check)
    void example.exited.then(() => reject(new Error(`the process exited before printing ${JSON.stringify(text)}:\n${example.output()}`)))
    check()
  }), ms, `the output ${JSON.stringify(text)}`)
}

/** Start the example server on a free port and wait until it logs that it listens. */
async function startServer (env: ExampleEnv): Promise<ExampleProcess & { port: number }> {
  const port = await freePort()
  const server = spawnExample('example/server.ts', { ...env, PORT: String(port), HOST: '127.0.0.1' })
  await waitForOutput(server, 'Server listening at', STARTUP_TIMEOUT)
  return { ...server, port }
}

function stop (example: ExampleProcess | undefined): void {
  if (example !== undefined && example.child.exitCode === null && example.child.signalCode === null) example.child.kill('SIGKILL')
}

/** GET over HTTPS, accepting a self-signed certificate. */
function httpsText (url: string): Promise<{ status: number, type: string, body: string }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { rejectUnauthorized: false, agent: false }, (response) => {
      let body = ''
      response.setEncoding('utf8').on('data', (chunk: string) => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type']), body }))
    }).on('error', reject)
  })
}

describe('the example server process', () => {
  let server: (ExampleProcess & { port: number }) | undefined
  const env = { CLOSE_TIMEOUT_MS: String(CLOSE_TIMEOUT), ALLOWED_ORIGINS: 'http://allowed.example', MAX_PAYLOAD: '1024' }

  before(async () => { server = await startServer(env) })
  after(() => stop(server))

  test('echoes text as text and binary as binary on /ws', async (t) => {
    const socket = await connect(`ws://127.0.0.1:${server?.port}/ws`)
    t.after(() => socket.terminate())
    let reply = nextMessage(socket)
    socket.send('héllo')
    assert.deepEqual(await reply, { data: 'héllo', isBinary: false })
    reply = nextMessage(socket)
    socket.send(Buffer.from([0, 1, 2, 255]))
    assert.deepEqual(await reply, { data: Buffer.from([0, 1, 2, 255]), isBinary: true })
  })

  test('serves the plugin\'s Prometheus metrics at GET /metrics', async (t) => {
    const socket = await connect(`ws://127.0.0.1:${server?.port}/ws`)
    t.after(() => socket.terminate())
    const reply = nextMessage(socket)
    socket.send('count me')
    await reply
    const response = await fetch(`http://127.0.0.1:${server?.port}/metrics`)
    assert.equal(response.status, 200)
    assert.match(String(response.headers.get('content-type')), /^text\/plain; version=0\.0\.4/)
    const text = await response.text()
    assert.match(text, /^frws_connections\{route="\/ws"\} 1$/m)
    assert.match(text, /^frws_messages_total\{direction="in",route="\/ws"\} [1-9]\d*$/m)
    assert.match(text, /^# TYPE frws_heartbeat_rtt_seconds histogram$/m)
  })

  test('serves an HTML page at / that uses the reliable client from the shipped bundle', async () => {
    const response = await fetch(`http://127.0.0.1:${server?.port}/`)
    assert.equal(response.status, 200)
    assert.match(String(response.headers.get('content-type')), /^text\/html/)
    const body = await response.text()
    assert.match(body, /<meta name="ws-path" content="\/ws">/)
    assert.match(body, /<meta name="reliable-path" content="\/echo">/)
    assert.match(body, /import \{ ReliableClient \} from '\/client\/client\.min\.js'/)
    assert.match(body, /id="resumes"/)
    assert.match(body, /id="lost"/)
  })

  test('serves the chat page, its script and the browser bundle as static files', async () => {
    for (const [path, type] of [['/chat.html', /^text\/html/], ['/chat.js', /javascript/], ['/client/client.min.js', /javascript/]] as const) {
      const response = await fetch(`http://127.0.0.1:${server?.port}${path}`)
      assert.equal(response.status, 200, path)
      assert.match(String(response.headers.get('content-type')), type, path)
      assert.ok((await response.text()).length > 100, path)
    }
  })

  test('the reliable echo route at /echo echoes through the reliable client', async (t) => {
    const client = new ReliableClient(`ws://127.0.0.1:${server?.port}/echo`, { WebSocket })
    t.after(() => client.close())
    const echoed = nextClientEvent(client, 'message')
    await client.send('reliable hello')
    assert.deepEqual(await echoed, ['reliable hello', false])
  })

  test('the chat route relays a message to every member of the room and lists the members', async (t) => {
    const url = `ws://127.0.0.1:${server?.port}/chat`
    const ada = new ReliableClient(`${url}?name=ada`, { WebSocket })
    const bob = new ReliableClient(`${url}?name=bob`, { WebSocket })
    t.after(() => Promise.all([ada.close(), bob.close()]))
    const received = (client: ReliableClient): Array<Record<string, unknown>> => {
      const messages: Array<Record<string, unknown>> = []
      client.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>))
      return messages
    }
    const toAda = received(ada)
    const toBob = received(bob)
    await ada.send(JSON.stringify({ type: 'join', room: 'r1' }))
    await bob.send(JSON.stringify({ type: 'join', room: 'r1' }))
    await waitFor(() => toAda.some((m) => m.type === 'members' && (m.members as string[]).length === 2), 'the member list of two', 5000)
    assert.deepEqual(toAda.filter((m) => m.type === 'members').at(-1), { type: 'members', room: 'r1', members: ['ada', 'bob'] })
    await bob.send(JSON.stringify({ type: 'say', room: 'r1', text: 'hi ada', id: 'b1' }))
    const said = { type: 'said', room: 'r1', from: 'bob', text: 'hi ada', id: 'b1' }
    await waitFor(() => toAda.some((m) => m.type === 'said') && toBob.some((m) => m.type === 'said'), 'the message in both', 5000)
    assert.deepEqual(toAda.filter((m) => m.type === 'said'), [said])
    assert.deepEqual(toBob.filter((m) => m.type === 'said'), [said])
  })

  test('refuses an upgrade from an origin outside ALLOWED_ORIGINS with 403 and accepts a listed one', async (t) => {
    await assert.rejects(
      connect(`ws://127.0.0.1:${server?.port}/ws`, { origin: 'http://evil.example' }),
      { statusCode: 403 }
    )
    const socket = await connect(`ws://127.0.0.1:${server?.port}/ws`, { origin: 'http://allowed.example' })
    t.after(() => socket.terminate())
    const reply = nextMessage(socket)
    socket.send('ok')
    assert.deepEqual(await reply, { data: 'ok', isBinary: false })
  })

  test('closes a connection whose message exceeds MAX_PAYLOAD with 1009', async (t) => {
    const socket = await connect(`ws://127.0.0.1:${server?.port}/ws`)
    t.after(() => socket.terminate())
    const closing = closed(socket)
    socket.send('x'.repeat(1025))
    assert.equal((await closing).code, 1009)
  })

  test('example/client.ts prints the echo of its first message and exits 0 after Ctrl-C', async (t) => {
    const client = spawnExample('example/client.ts', {}, [`ws://127.0.0.1:${server?.port}/echo`])
    t.after(() => stop(client))
    await waitForOutput(client, 'echo: hello #1', STARTUP_TIMEOUT)
    client.child.kill('SIGINT')
    assert.deepEqual(await withExpiry(client.exited, 5000, 'the client to exit'), { code: 0, signal: null })
    assert.match(client.output(), /closed: 1000 client done/)
  })

  test('on SIGTERM it closes clients with 1001 and exits with code 0 within CLOSE_TIMEOUT_MS plus slack', async (t) => {
    assert.ok(server !== undefined)
    const socket = await connect(`ws://127.0.0.1:${server.port}/ws`)
    t.after(() => socket.terminate())
    const bound = CLOSE_TIMEOUT + EXIT_SLACK
    const closing = closed(socket, bound)
    const exited = withExpiry(server.exited, bound, 'the server to exit')
    server.child.kill('SIGTERM')
    assert.deepEqual(await closing, { code: 1001, reason: 'server shutting down' })
    assert.deepEqual(await exited, { code: 0, signal: null })
    assert.match(server.output(), /"msg":"server closed"/)
  })
})

describe('the example server with invalid settings', () => {
  test('exits with code 1 and names the variable when PORT is not a number', async (t) => {
    const server = spawnExample('example/server.ts', { PORT: 'abc' })
    t.after(() => stop(server))
    assert.deepEqual(await withExpiry(server.exited, STARTUP_TIMEOUT, 'the server to exit'), { code: 1, signal: null })
    assert.match(server.output(), /PORT: expected an integer from 0 to 65535, received "abc"/)
  })

  test('exits with code 1 and names the option when the plugin rejects a value', async (t) => {
    const server = spawnExample('example/server.ts', { PORT: String(await freePort()), HEARTBEAT_TIMEOUT_MS: '1' })
    t.after(() => stop(server))
    assert.deepEqual(await withExpiry(server.exited, STARTUP_TIMEOUT, 'the server to exit'), { code: 1, signal: null })
    assert.match(server.output(), /Invalid environment: Invalid option "heartbeat.pongTimeout"/)
  })

  test('exits with code 1 and one clear line, no stack trace, when the port is in use', async (t) => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise<void>((resolve) => taken.close(() => resolve())))
    const port = (taken.address() as { port: number }).port
    const server = spawnExample('example/server.ts', { PORT: String(port), HOST: '127.0.0.1' })
    t.after(() => stop(server))
    assert.deepEqual(await withExpiry(server.exited, STARTUP_TIMEOUT, 'the server to exit'), { code: 1, signal: null })
    assert.match(server.output(), new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use \\(EADDRINUSE\\)\\. .*set PORT`))
    assert.doesNotMatch(server.output(), /^\s+at /m, 'no stack trace')
  })

  test('exits with code 1 and says so when HOST is not an address of this machine', async (t) => {
    const server = spawnExample('example/server.ts', { PORT: String(await freePort()), HOST: '192.0.2.1' })
    t.after(() => stop(server))
    assert.deepEqual(await withExpiry(server.exited, STARTUP_TIMEOUT, 'the server to exit'), { code: 1, signal: null })
    assert.match(server.output(), /192\.0\.2\.1 is not an address of this machine \(EADDRNOTAVAIL\)/)
    assert.doesNotMatch(server.output(), /^\s+at /m, 'no stack trace')
  })

  test('exits with code 1 and names the variable when TLS_CERT cannot be read', async (t) => {
    const missing = join(tmpdir(), 'frws-example-missing-cert.pem')
    const server = spawnExample('example/server.ts', { PORT: String(await freePort()), TLS_CERT: missing, TLS_KEY: missing })
    t.after(() => stop(server))
    assert.deepEqual(await withExpiry(server.exited, STARTUP_TIMEOUT, 'the server to exit'), { code: 1, signal: null })
    assert.match(server.output(), /TLS_CERT: cannot read/)
  })
})

describe('the example server with TLS_CERT and TLS_KEY', { skip: hasOpenssl() ? false : 'openssl is not installed' }, () => {
  let server: (ExampleProcess & { port: number }) | undefined
  let certificate: TestCertificate | undefined

  before(async () => {
    certificate = await makeTestCertificate('example')
    server = await startServer({ TLS_CERT: certificate.cert, TLS_KEY: certificate.key, WS_PATH: '/tls-echo', CLOSE_TIMEOUT_MS: String(CLOSE_TIMEOUT) })
  })
  after(async () => {
    stop(server)
    await certificate?.remove()
  })

  test('echoes over wss on the WS_PATH route', async (t) => {
    const socket = await connect(`wss://127.0.0.1:${server?.port}/tls-echo`, { rejectUnauthorized: false })
    t.after(() => socket.terminate())
    const reply = nextMessage(socket)
    socket.send('secure hello')
    assert.deepEqual(await reply, { data: 'secure hello', isBinary: false })
  })

  test('serves the page over https with the WS_PATH in it', async () => {
    const response = await httpsText(`https://127.0.0.1:${server?.port}/`)
    assert.equal(response.status, 200)
    assert.match(response.type, /^text\/html/)
    assert.match(response.body, /<meta name="ws-path" content="\/tls-echo">/)
  })

  test('on SIGTERM it closes wss clients with 1001 and exits with code 0 within CLOSE_TIMEOUT_MS plus slack', async (t) => {
    assert.ok(server !== undefined)
    const socket = await connect(`wss://127.0.0.1:${server.port}/tls-echo`, { rejectUnauthorized: false })
    t.after(() => socket.terminate())
    const bound = CLOSE_TIMEOUT + EXIT_SLACK
    const closing = closed(socket, bound)
    const exited = withExpiry(server.exited, bound, 'the server to exit')
    server.child.kill('SIGTERM')
    assert.deepEqual(await closing, { code: 1001, reason: 'server shutting down' })
    assert.deepEqual(await exited, { code: 0, signal: null })
  })
})
