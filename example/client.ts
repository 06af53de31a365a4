/**
 * A Node client for the reliable echo route: `node --import tsx example/client.ts [url]`.
 * It sends a message at once and then every 2 s with the reliable client, prints what comes back,
 * and counts the sessions resumed and the messages lost (restart the server to see both).
 *
 * The URL defaults to `ws://127.0.0.1:$PORT/echo` (port 3000). For a server with a self-signed
 * certificate, pass a `wss://` URL and set `TLS_INSECURE=1`.
 * Ctrl-C closes with 1000. The exit code is 0 after that, 1 when the client gave up.
 */
import WebSocket from 'ws'
import { ReliableClient } from '../lib/client/index.js'
import { RELIABLE_ECHO_PATH } from './config.js'

/** How often the client sends a message, in ms. */
const SEND_INTERVAL = 2000

const url = process.argv[2] ?? `ws://127.0.0.1:${process.env.PORT ?? '3000'}${RELIABLE_ECHO_PATH}`
const insecure = process.env.TLS_INSECURE === '1'

/** `ws` with certificate checks off when TLS_INSECURE=1 (a self-signed development certificate). */
class ExampleWebSocket extends WebSocket {
  constructor (address: string, protocols?: string | string[]) {
    super(address, protocols, { rejectUnauthorized: !insecure })
  }
}

const client = new ReliableClient(url, { WebSocket: ExampleWebSocket })
let count = 0
let resumes = 0
let lost = 0
let timer: NodeJS.Timeout | undefined

function sendNext (): void {
  const text = `hello #${++count}`
  // A rejection (continuity lost, client closed) is reported by the events below.
  client.send(text).catch(() => {})
  console.log(`sent: ${text}`)
}

client.on('open', ({ sessionId }) => {
  console.log(`connected to ${url} (session ${sessionId})`)
  if (timer !== undefined) return
  sendNext()
  timer = setInterval(sendNext, SEND_INTERVAL)
})
client.on('message', (data) => {
  console.log(`echo: ${typeof data === 'string' ? data : `<${data.byteLength} bytes>`}`)
})
client.on('reconnecting', ({ attempt, delay }) => console.log(`reconnecting (attempt ${attempt}) in ${delay} ms`))
client.on('resumed', ({ continuity }) => {
  if (!continuity) return
  resumes++
  console.log(`resumed: nothing lost (resumes: ${resumes}, messages lost: ${lost})`)
})
client.on('continuityLost', (event) => {
  lost += event.lost
  console.log(`continuity lost: ${event.lost} message(s) may be lost (resumes: ${resumes}, messages lost: ${lost})`)
})
client.on('error', (error) => console.error(`error: ${error.message}`))
client.on('end', ({ code, reason, error }) => {
  clearInterval(timer)
  console.log(`closed: ${code} ${reason}${error === undefined ? '' : ` (${error.message})`}`)
  process.exitCode = error === undefined ? 0 : 1
})

process.on('SIGINT', () => { void client.close(1000, 'client done') })
