/**
 * Heartbeat settings of one route, as the manager uses them (docs/HEARTBEAT.md explains the
 * defaults). Resolve them once per route and pass the same object for every connection of it.
 */
export interface HeartbeatSettings {
  /**
   * Silence (no inbound frame of any kind) after which the server sends a protocol ping, in ms;
   * 0 sends no pings. Otherwise at least {@link MIN_HEARTBEAT_INTERVAL}.
   * @default 25000
   */
  readonly pingInterval: number
  /**
   * Time after a ping within which any inbound frame must arrive, in ms, or the connection is
   * terminated. At least {@link MIN_HEARTBEAT_INTERVAL}; unused (any value) when `pingInterval` is 0.
   * @default 10000
   */
  readonly pongTimeout: number
  /**
   * Time without an application message after which the connection is closed with
   * `CloseCode.IDLE_TIMEOUT`, in ms; 0 turns it off. Otherwise at least {@link MIN_HEARTBEAT_INTERVAL}.
   * @default 0
   */
  readonly idleTimeout: number
}

/** The defaults: Socket.IO's 25 s ping interval, a 10 s pong timeout, no idle timeout. */
export const HEARTBEAT_DEFAULTS: HeartbeatSettings = Object.freeze({
  pingInterval: 25_000,
  pongTimeout: 10_000,
  idleTimeout: 0
})

/** Smallest non-zero `pingInterval`, `pongTimeout` and `idleTimeout`, in ms: the tick cannot be finer. */
export const MIN_HEARTBEAT_INTERVAL = 10

/** Tick sizes the manager picks from, in ms, coarsest first; all multiples of the smallest. */
const TICK_LADDER = [1000, 500, 250, 200, 100, 50, 20, 10] as const
/** The tick is at most this fraction of the shortest duration in use. */
const TICK_FRACTION = 10

/** True when the settings make the manager do anything for a connection. */
export function isHeartbeatActive (settings: HeartbeatSettings): boolean {
  return settings.pingInterval > 0 || settings.idleTimeout > 0
}

/**
 * The tick these settings ask for, in ms: the coarsest ladder step that is at most a tenth of the
 * shortest duration in use and divides every duration in use (then the detection bound has no
 * rounding term); failing that, the coarsest step that is at most a tenth; never below 10 ms.
 */
export function heartbeatTickInterval (settings: HeartbeatSettings): number {
  const durations: number[] = []
  if (settings.pingInterval > 0) durations.push(settings.pingInterval, settings.pongTimeout)
  if (settings.idleTimeout > 0) durations.push(settings.idleTimeout)
  if (durations.length === 0) return TICK_LADDER[0]
  const limit = Math.min(...durations) / TICK_FRACTION
  let fallback: number | undefined
  for (const step of TICK_LADDER) {
    if (step > limit) continue
    fallback ??= step
    if (durations.every((duration) => duration % step === 0)) return step
  }
  return fallback ?? MIN_HEARTBEAT_INTERVAL
}

/**
 * Latest time after a peer's last inbound frame at which a silent peer is terminated, in ms,
 * not counting event-loop lateness: `pingInterval + pongTimeout`, plus one tick when the tick does
 * not divide `pingInterval`. Valid whatever other routes are in use (the shared tick only ever
 * divides this route's tick). `Infinity` when pings are off.
 */
export function heartbeatDetectionBound (settings: HeartbeatSettings): number {
  if (settings.pingInterval === 0) return Infinity
  const tick = heartbeatTickInterval(settings)
  return settings.pingInterval + settings.pongTimeout + (settings.pingInterval % tick === 0 ? 0 : tick)
}

/** A description of what is wrong with `settings`, or `undefined` when they are valid. */
export function checkHeartbeatSettings (settings: HeartbeatSettings): string | undefined {
  const { pingInterval, pongTimeout, idleTimeout } = settings
  if (!isDuration(pingInterval, true)) return `pingInterval must be 0 or an integer >= ${MIN_HEARTBEAT_INTERVAL}`
  if (pingInterval > 0 && !isDuration(pongTimeout, false)) return `pongTimeout must be an integer >= ${MIN_HEARTBEAT_INTERVAL}`
  if (!isDuration(idleTimeout, true)) return `idleTimeout must be 0 or an integer >= ${MIN_HEARTBEAT_INTERVAL}`
  return undefined
}

function isDuration (value: number, zeroAllowed: boolean): boolean {
  return Number.isSafeInteger(value) && ((zeroAllowed && value === 0) || value >= MIN_HEARTBEAT_INTERVAL)
}
