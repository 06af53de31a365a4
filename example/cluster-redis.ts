import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A redis-server the cluster example started itself (no REDIS_URL given). */
export interface LocalRedis {
  url: string
  /** Stop the server and remove its directory. */
  stop (): void
}

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function answers (port: number): Promise<boolean> {
  const socket = createConnection(port, '127.0.0.1')
  try {
    await once(socket, 'connect')
    socket.write('PING\r\n')
    const [reply] = await once(socket, 'data') as [Buffer]
    return reply.toString().startsWith('+PONG')
  } catch {
    return false
  } finally {
    socket.destroy()
  }
}

/**
 * Start `redis-server` on a free port with a temporary directory and no persistence (Debian's
 * package: `apt-get install redis-server`); resolves once it answers PING.
 */
export async function startLocalRedis (): Promise<LocalRedis> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'frws-example-redis-'))
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const failed = once(child, 'error').then(([error]) => { throw new Error(`cannot start redis-server (${(error as Error).message}); install it or set REDIS_URL`) })
  const stop = (): void => {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  const ready = (async () => {
    for (let attempt = 0; attempt < 200; attempt++) {
      if (await answers(port)) return
      if (child.exitCode !== null) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`redis-server on port ${port} did not answer`)
  })()
  try {
    await Promise.race([ready, failed])
  } catch (error) {
    stop()
    throw error
  }
  return { url: `redis://127.0.0.1:${port}`, stop }
}
