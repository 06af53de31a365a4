import { checkInteger, checkKnownKeys, checkObject, invalidOption } from '../option-checks.js'
import { MESSAGE_OVERHEAD, SESSION_OVERHEAD } from './session-budget.js'

/** Least byte limit: a session record and one message of a single byte. */
const MIN_BYTES = SESSION_OVERHEAD + MESSAGE_OVERHEAD + 1

/**
 * The memory budget of reliable sessions, plugin option `sessionBudget` (docs/PROTOCOL.md, "Memory
 * budget"). Bytes are real bytes: each buffered message is charged its encoded frame plus a fixed
 * per-message overhead, each session a fixed record size (`lib/reliable/session-budget.ts`).
 */
export interface SessionBudgetOptions {
  /**
   * Most real bytes all reliable sessions of this registration hold together, attached and
   * suspended. When a message or a new session does not fit, suspended sessions are shed (4507),
   * oldest first; if none is left, the session that sends is closed with 4507.
   * @default 268435456 (256 MiB)
   */
  maxTotalBytes?: number
  /**
   * Most real bytes one session holds (its record plus its unacknowledged messages); a send past it
   * ends the session with 4413, like `reliable.maxUnackedBytes`, which bounds encoded frame bytes only.
   * @default 2097152 (2 MiB)
   */
  maxSessionBytes?: number
  /**
   * Most suspended sessions kept at once; one more sheds the oldest suspended session.
   * @default 10000
   */
  maxSuspended?: number
  /**
   * Most suspended sessions kept per principal (routes with `reliable.principal`) or per remote
   * address (anonymous sessions); one more sheds that principal's or address's oldest.
   * @default 100
   */
  maxSuspendedPerAddress?: number
  /**
   * How long a session whose client never acknowledged a message nor sent one survives a
   * disconnect, in ms (when shorter than the route's `reliable.sessionTimeout`).
   * @default 10000
   */
  unackedSessionTimeout?: number
}

/** `sessionBudget` after defaults. */
export type ResolvedSessionBudget = Required<SessionBudgetOptions>

/** Defaults of `sessionBudget`: a process with Node's default heap outlives any number of anonymous clients. */
export const SESSION_BUDGET_DEFAULTS: ResolvedSessionBudget = {
  maxTotalBytes: 256 * 1024 * 1024,
  maxSessionBytes: 2 * 1024 * 1024,
  maxSuspended: 10_000,
  maxSuspendedPerAddress: 100,
  unackedSessionTimeout: 10_000
}

const KEYS = ['maxTotalBytes', 'maxSessionBytes', 'maxSuspended', 'maxSuspendedPerAddress', 'unackedSessionTimeout'] as const

/** Validate the `sessionBudget` plugin option and apply defaults. */
export function resolveSessionBudget (value: unknown): ResolvedSessionBudget {
  const options = checkObject('sessionBudget', value ?? {})
  checkKnownKeys('sessionBudget', options, KEYS)
  const defaults = SESSION_BUDGET_DEFAULTS
  const resolved: ResolvedSessionBudget = {
    maxTotalBytes: checkInteger('sessionBudget.maxTotalBytes', options.maxTotalBytes ?? defaults.maxTotalBytes, MIN_BYTES),
    maxSessionBytes: checkInteger('sessionBudget.maxSessionBytes', options.maxSessionBytes ?? defaults.maxSessionBytes, MIN_BYTES),
    maxSuspended: checkInteger('sessionBudget.maxSuspended', options.maxSuspended ?? defaults.maxSuspended, 0),
    maxSuspendedPerAddress: checkInteger('sessionBudget.maxSuspendedPerAddress', options.maxSuspendedPerAddress ?? defaults.maxSuspendedPerAddress, 0),
    unackedSessionTimeout: checkInteger('sessionBudget.unackedSessionTimeout', options.unackedSessionTimeout ?? defaults.unackedSessionTimeout, 1)
  }
  if (resolved.maxSessionBytes > resolved.maxTotalBytes) {
    invalidOption('sessionBudget.maxSessionBytes', `an integer at most sessionBudget.maxTotalBytes (${resolved.maxTotalBytes})`, resolved.maxSessionBytes)
  }
  return resolved
}
