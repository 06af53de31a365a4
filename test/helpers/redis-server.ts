import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { Redis } from 'ioredis'

/** A redis-server started by a test on a free port, with a temp dir and no persistence. */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** A new ioredis client on this server (closed by `stop()`). */
  client (): Redis
  /** Kill the server (SIGKILL), keeping the port: `start()` brings an empty one back on it. */
  crash (): Promise<void>
  /** Freeze the server (SIGSTOP): connections stay open, commands get no answer. */
  freeze (): void
  /** Let a frozen server run again (SIGCONT); its data is intact. */
  thaw (): void
  /** Start the server again on the same port after `crash()`. */
  start (): Promise<void>
  /** Quit the clients, stop the server and remove its directory. */
  stop (): Promise<void>
}

/** A TCP port nobody listens on right now. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function waitForPing (port: number): Promise<void> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  probe.on('error', () => {})
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      await probe.connect()
      await probe.ping()
      probe.disconnect()
      return
    } catch {
      probe.disconnect()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  throw new Error(`redis-server on port ${port} did not answer`)
}

/** Start `redis-server --port <free> --dir <tmp> --save '' --appendonly no` (extra arguments after). */
export async function startRedisServer (extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'frws-redis-'))
  const clients: Redis[] = []
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...extraArgs], { stdio: 'ignore' })
    await waitForPing(port)
  }
  const crash = async (): Promise<void> => {
    const running = child
    if (running === undefined || running.exitCode !== null) return
    const exited = once(running, 'exit')
    running.kill('SIGKILL')
    await exited
  }
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client () {
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 100 })
      client.on('error', () => {})
      clients.push(client)
      return client
    },
    crash,
    start,
    freeze: () => { child?.kill('SIGSTOP') },
    thaw: () => { child?.kill('SIGCONT') },
    async stop () {
      for (const client of clients) client.disconnect()
      await crash()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
