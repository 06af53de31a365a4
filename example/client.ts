/**
 * A Node client for the echo server: `node --import tsx example/client.ts [url]`.
 * It sends a message at once and then every 2 s, and prints what comes back.
 *
 * The URL defaults to `ws://127.0.0.1:$PORT$WS_PATH` (3000 and `/ws`). For a server with a
 * self-signed certificate, pass a `wss://` URL and set `TLS_INSECURE=1`.
 * Ctrl-C closes with 1000. The exit code is 0 after a normal close (1000 or 1001), 1 otherwise.
 */
import WebSocket from 'ws'

/** How often the client sends a message, in ms. */
const SEND_INTERVAL = 2000

const url = process.argv[2] ??
  `ws://127.0.0.1:${process.env.PORT ?? '3000'}${process.env.WS_PATH ?? '/ws'}`
const socket = new WebSocket(url, { rejectUnauthorized: process.env.TLS_INSECURE !== '1' })
let count = 0
let timer: NodeJS.Timeout | undefined

function sendNext (): void {
  const text = `hello #${++count}`
  socket.send(text)
  console.log(`sent: ${text}`)
}

socket.on('open', () => {
  console.log(`connected to ${url}`)
  sendNext()
  timer = setInterval(sendNext, SEND_INTERVAL)
})

socket.on('message', (data: Buffer, isBinary: boolean) => {
  console.log(`echo: ${isBinary ? `<${data.length} bytes>` : data.toString()}`)
})

socket.on('error', (error) => {
  console.error(`error: ${error.message}`)
})

socket.on('close', (code, reason) => {
  clearInterval(timer)
  console.log(`closed: ${code} ${reason.toString()}`)
  process.exitCode = code === 1000 || code === 1001 ? 0 : 1
})

process.on('SIGINT', () => {
  if (socket.readyState === WebSocket.OPEN) socket.close(1000, 'client done')
  else process.exit(0)
})
