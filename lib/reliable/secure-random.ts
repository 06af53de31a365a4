import * as crypto from 'node:crypto'

/**
 * Random identifiers and SHA-256 digests for the reliable handshake, at a fraction of the cost of
 * one `randomBytes()` call and one `createHash()` object each (issue 12: a handshake took three
 * of each). Random bytes come from one pool filled by the CSPRNG (`randomFillSync`) and handed
 * out once each, as Node's own `crypto.randomUUID()` does; no byte is ever handed out twice.
 */

const POOL_SIZE = 4096
const pool = Buffer.alloc(POOL_SIZE)
let poolOffset = POOL_SIZE

/** `bytes` fresh random bytes (at most 256) from the CSPRNG, as base64url text. */
export function randomBase64url (bytes: number): string {
  if (poolOffset + bytes > POOL_SIZE) {
    crypto.randomFillSync(pool)
    poolOffset = 0
  }
  const text = pool.toString('base64url', poolOffset, poolOffset + bytes)
  // Overwritten so that a secret handed out (a resume token) does not stay in the pool.
  pool.fill(0, poolOffset, poolOffset + bytes)
  poolOffset += bytes
  return text
}

type OneShotHash = (algorithm: string, data: string, encoding: 'base64url') => string

// `crypto.hash()` (Node 20.12 and later) digests without building a Hash object.
const oneShot = (crypto as unknown as { hash?: OneShotHash }).hash

/** The SHA-256 of the UTF-8 bytes of `text`, as base64url text. */
export function sha256Base64url (text: string): string {
  if (oneShot !== undefined) return oneShot('sha256', text, 'base64url')
  return crypto.createHash('sha256').update(text).digest('base64url')
}
