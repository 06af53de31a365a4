import { performance } from 'node:perf_hooks'

let cached = 0
let valid = false

function invalidate (): void {
  valid = false
}

/**
 * `performance.now()` read at most once per event-loop turn, in ms (monotonic). One socket read
 * delivers many frames in one synchronous run; a clock read costs 100-200 ns on some virtual
 * machines, more than the rest of a frame's rate check, so the frames of one run share one read.
 * A microtask marks the value stale once the run is over.
 */
export function turnNow (): number {
  if (!valid) {
    cached = performance.now()
    valid = true
    queueMicrotask(invalidate)
  }
  return cached
}
