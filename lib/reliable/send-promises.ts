import { FRWS_ERR_SEND_TIMEOUT } from '../errors.js'

/** Does nothing: marks a promise's rejection as handled (`promise.catch(noop)`). */
export function noop (): void {}

/** A promise already rejected with `error`, whose rejection is never reported as unhandled. */
export function rejected (error: Error): Promise<never> {
  const promise = Promise.reject(error)
  promise.catch(noop)
  return promise
}

/**
 * `promise`, or a rejection with FRWS_ERR_SEND_TIMEOUT after `timeout` ms, whichever comes first;
 * the timer is `unref()`'d and cleared once settled. The rejection is never reported as unhandled.
 */
export function withTimeout (promise: Promise<void>, timeout: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const expiry = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new FRWS_ERR_SEND_TIMEOUT(timeout)), timeout)
    timer.unref()
  })
  const raced = Promise.race([promise, expiry]).finally(() => clearTimeout(timer))
  raced.catch(noop)
  return raced
}
