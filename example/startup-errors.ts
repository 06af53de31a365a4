/**
 * One-line explanations of the errors that stop the example at start-up (a port in use, an
 * address that cannot be bound), instead of a stack trace.
 */

/** Where the example tried to listen. */
export interface ListenTarget {
  host: string
  port: number
}

/** A sentence that says why listening failed and what to change, for `console.error`. */
export function explainListenError (error: unknown, { host, port }: ListenTarget): string {
  const code = (error as { code?: unknown } | null)?.code
  const where = `${host}:${port}`
  switch (code) {
    case 'EADDRINUSE':
      return `Cannot listen on ${where}: the port is already in use (EADDRINUSE). Stop the other server or set PORT to another port.`
    case 'EACCES':
      return `Cannot listen on ${where}: permission denied (EACCES). Ports below 1024 need privileges: set PORT to 1024 or above.`
    case 'EADDRNOTAVAIL':
      return `Cannot listen on ${where}: ${host} is not an address of this machine (EADDRNOTAVAIL). Set HOST to 127.0.0.1 or 0.0.0.0.`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Cannot listen on ${where}: the host name ${host} cannot be resolved (${code}). Set HOST to an IP address.`
    default:
      return `Cannot listen on ${where}: ${error instanceof Error ? error.message : String(error)}`
  }
}
