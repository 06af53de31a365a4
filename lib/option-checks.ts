import { FRWS_ERR_OPTION_INVALID } from './errors.js'

/** Describe a received value for an error message without dumping large objects. */
function describe (value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'undefined') return String(value)
  if (typeof value === 'function') return 'a function'
  if (value instanceof RegExp) return String(value)
  if (Array.isArray(value)) return 'an array'
  return typeof value
}

/** Throw the coded option error for `name`. */
export function invalidOption (name: string, expected: string, value: unknown): never {
  throw new FRWS_ERR_OPTION_INVALID(name, expected, describe(value))
}

/** An integer number of milliseconds or bytes, `>= min`. */
export function checkInteger (name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    invalidOption(name, `an integer >= ${min}`, value)
  }
  return value
}

/** An integer `>= min`, or `Infinity` for "no limit". */
export function checkLimit (name: string, value: unknown, min: number): number {
  if (value === Infinity) return value
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    invalidOption(name, `an integer >= ${min} or Infinity`, value)
  }
  return value
}

/** A boolean. */
export function checkBoolean (name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') invalidOption(name, 'a boolean', value)
  return value
}

/** A plain object (the container of nested options). */
export function checkObject (name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalidOption(name, 'an object', value)
  }
  return value as Record<string, unknown>
}

/** Reject keys the option object does not know: a typo must not silently fall back to a default. */
export function checkKnownKeys (name: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      invalidOption(name === '' ? key : `${name}.${key}`, `one of the known options (${known.join(', ')})`, value[key])
    }
  }
}
