/**
 * Run settings of the property-based fuzzers (test/fuzz/*.test.ts), read from the environment
 * so a CI run stays short, a long run is one variable away, and a failure can be replayed:
 *
 * - `FRWS_FUZZ_RUNS`: cases per property (each file states its CI default);
 * - `FRWS_FUZZ_SEED`: the seed (printed at the start of every run and in every failure report);
 * - `FRWS_FUZZ_PATH`: the shrink path fast-check prints with a failure, to replay the minimal case at once.
 */
import type { Parameters } from 'fast-check'

function integerFromEnv (name: string): number | undefined {
  const text = process.env[name]
  if (text === undefined || text === '') return undefined
  const value = Number(text)
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(text)}`)
  return value
}

/** fast-check parameters for one property: `defaultRuns` cases unless the environment asks otherwise. */
export function fuzzParameters<T> (defaultRuns: number): Parameters<T> & { seed: number, numRuns: number } {
  const seed = integerFromEnv('FRWS_FUZZ_SEED') ?? (Date.now() ^ (Math.random() * 0x100000000)) | 0
  const numRuns = integerFromEnv('FRWS_FUZZ_RUNS') ?? defaultRuns
  const path = process.env.FRWS_FUZZ_PATH
  // includeErrorInReport: the counterexample comes with the assertion that failed, not only the values.
  return { seed, numRuns, includeErrorInReport: true, ...(path !== undefined && path !== '' ? { path } : {}) }
}

/** How to replay a run, for `t.diagnostic`. */
export function replayHint (parameters: { seed: number, numRuns: number }): string {
  return `fuzz seed ${parameters.seed}, ${parameters.numRuns} runs (replay: FRWS_FUZZ_SEED=${parameters.seed})`
}

/**
 * Records every uncaught exception and unhandled rejection of this process while installed, so a
 * property can assert that none happened (the server under test runs in this process).
 */
export interface ProcessFaults {
  /** What fired so far, as text. */
  readonly faults: string[]
  /** Remove the listeners. */
  uninstall (): void
}

/** Install `uncaughtException` and `unhandledRejection` listeners that record instead of crashing. */
export function recordProcessFaults (): ProcessFaults {
  const faults: string[] = []
  const onException = (error: unknown): void => { faults.push(`uncaughtException: ${String((error as Error)?.stack ?? error)}`) }
  const onRejection = (reason: unknown): void => { faults.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`) }
  process.on('uncaughtException', onException)
  process.on('unhandledRejection', onRejection)
  return {
    faults,
    uninstall () {
      process.off('uncaughtException', onException)
      process.off('unhandledRejection', onRejection)
    }
  }
}
