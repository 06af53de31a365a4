/**
 * Resume tokens (docs/PROTOCOL.md, "Resume token"; docs/SECURITY.md). The server issues a new
 * token in every welcome and keeps only its SHA-256 hash in the session store, so a dump of the
 * store does not hand out sessions. A resume must present the current token; the hash of what it
 * presents is compared with the stored one in constant time.
 */
import { timingSafeEqual } from 'node:crypto'
import { randomBase64url, sha256Base64url } from './secure-random.js'

/** Random bytes in a token: 256 bits, well above the 128 an attacker could never guess. */
const TOKEN_BYTES = 32

/** A freshly issued token: the secret for the welcome, the hash for the store. */
export interface IssuedResumeToken {
  /** 43 characters of base64url; goes to the client in the welcome and nowhere else. */
  token: string
  /** {@link hashResumeToken} of `token`; what the store keeps. */
  hash: string
}

/** SHA-256 of a token, in base64url (43 characters). */
export function hashResumeToken (token: string): string {
  return sha256Base64url(token)
}

/** Draw a new token from the system's cryptographic random source. */
export function issueResumeToken (): IssuedResumeToken {
  const token = randomBase64url(TOKEN_BYTES)
  return { token, hash: hashResumeToken(token) }
}

/** True when two token hashes are equal, compared in constant time. */
export function resumeTokenHashesMatch (stored: string, presented: string): boolean {
  const a = Buffer.from(stored)
  const b = Buffer.from(presented)
  // Both are SHA-256 in base64url, so a length difference reveals nothing about the secret.
  return a.length === b.length && timingSafeEqual(a, b)
}
