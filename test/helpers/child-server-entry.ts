// The child side of child-server.ts: builds the fixture app, listens, answers the parent's commands.
import { getHeapSpaceStatistics } from 'node:v8'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'

type Fixture = {
  default: (app: FastifyInstance, options: Record<string, unknown>) => void | Promise<void>
  stats?: (app: FastifyInstance) => Record<string, unknown> | Promise<Record<string, unknown>>
}

let app: FastifyInstance | undefined
let fixture: Fixture | undefined

async function run (command: string, args: { fixture: string, options: Record<string, unknown> } | undefined): Promise<unknown> {
  switch (command) {
    case 'start': {
      fixture = await import(args!.fixture) as Fixture
      app = Fastify({ logger: false })
      await fixture.default(app, args!.options)
      await app.listen({ host: '127.0.0.1', port: 0 })
      const address = app.server.address()
      if (address === null || typeof address === 'string') throw new Error('no port')
      return address.port
    }
    case 'memory': {
      const gc = (globalThis as { gc?: () => void }).gc
      gc?.()
      gc?.()
      const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
      // Compiled code comes and goes with the JIT's timing, not with what the app holds.
      const code = getHeapSpaceStatistics()
        .filter((space) => space.space_name.startsWith('code_'))
        .reduce((sum, space) => sum + space.space_used_size, 0)
      return { rss, heapUsed, dataHeapUsed: heapUsed - code, external, arrayBuffers }
    }
    case 'stats':
      return (await fixture?.stats?.(app!)) ?? {}
    case 'close': {
      const started = performance.now()
      await app?.close()
      const took = performance.now() - started
      setImmediate(() => process.exit(0))
      return took
    }
    default:
      throw new Error(`unknown command ${command}`)
  }
}

process.on('message', (message: { id: number, command: string, args?: { fixture: string, options: Record<string, unknown> } }) => {
  run(message.command, message.args).then(
    (result) => process.send!({ id: message.id, result }),
    (error: Error) => process.send!({ id: message.id, error: error.stack ?? String(error) })
  )
})
process.on('disconnect', () => process.exit(0))
