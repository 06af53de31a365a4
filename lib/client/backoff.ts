/**
 * Capped exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and
 * Jitter"; centrifuge-js `src/utils.ts`): the delay is uniform between 0 and the capped exponential,
 * so clients that lost the same server spread their reconnects instead of arriving together.
 */

// 2^31 times any sensible base is past every cap; the clamp keeps the product finite.
const MAX_EXPONENT = 31

/**
 * The delay before reconnect attempt `attempt`, in ms: an integer drawn uniformly from
 * `[0, min(maxDelay, baseDelay * 2^attempt)]`.
 * @param attempt - 0 for the first attempt after a successful connection, then 1, 2, ...
 * @param baseDelay - ms; the ceiling of the first attempt
 * @param maxDelay - ms; the cap of every ceiling
 * @param random - uniform in `[0, 1)`, like `Math.random`
 */
export function backoffDelay (attempt: number, baseDelay: number, maxDelay: number, random: () => number): number {
  const ceiling = Math.min(maxDelay, baseDelay * 2 ** Math.min(attempt, MAX_EXPONENT))
  return Math.min(ceiling, Math.floor(random() * (ceiling + 1)))
}
