/**
 * What logs say instead of a session id (docs/SECURITY.md, "Logs"). A log line must never carry
 * what a resume needs, so sessions appear as a tag: the first 8 base64url characters (48 bits)
 * of SHA-256 over a fixed label and the id. The tag cannot be turned back into the id, and it is
 * the same in every process, so the lines of one session can be followed across nodes and restarts.
 */
import { sha256Base64url } from './secure-random.js'

const TAG_LABEL = 'fastify-reliable-ws session tag\n'
const TAG_LENGTH = 8

/** The log tag of a session id, e.g. `k3Vq9_aZ`. */
export function sessionTag (sessionId: string): string {
  return sha256Base64url(TAG_LABEL + sessionId).slice(0, TAG_LENGTH)
}
