// A throwaway self-signed certificate for tests that need TLS (wss://), made with Debian's openssl.
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** True when the `openssl` command exists (tests that need a certificate are skipped otherwise). */
export function hasOpenssl (): boolean {
  try {
    execFileSync('which', ['openssl'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** A self-signed EC certificate for 127.0.0.1, valid one day, in a new temporary folder. */
export interface TestCertificate {
  /** Path of the PEM certificate. */
  cert: string
  /** Path of the PEM private key. */
  key: string
  /** Remove the folder. */
  remove (): Promise<void>
}

/** Make a certificate with openssl in a new temporary folder named after `label`. */
export async function makeTestCertificate (label: string): Promise<TestCertificate> {
  const directory = await mkdtemp(join(tmpdir(), `frws-${label}-tls-`))
  const cert = join(directory, 'cert.pem')
  const key = join(directory, 'key.pem')
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'
  ], { stdio: 'ignore' })
  return { cert, key, remove: () => rm(directory, { recursive: true, force: true }) }
}
