import type { FastifyInstance } from 'fastify'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Registry } from 'prom-client'

type MetricsModule = typeof import('../../lib/metrics/index.js')

const DIST_METRICS = new URL('../../dist/metrics/index.js', import.meta.url)

/**
 * Turn the Prometheus metrics on for `app`, from the compiled `fastify-reliable-ws/metrics` entry
 * (as users run it), on a fresh registry. Every diagnostics channel then has a subscriber, so the
 * target pays the full cost of publishing and counting.
 */
export async function enableMetrics (app: FastifyInstance): Promise<Registry> {
  if (!existsSync(DIST_METRICS)) throw new Error(`${fileURLToPath(DIST_METRICS)} is missing: run \`npm run build\` first`)
  const { registerMetrics } = await import(DIST_METRICS.href) as MetricsModule
  const registry = new Registry()
  registerMetrics(app, { registry })
  return registry
}
