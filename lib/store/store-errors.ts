/** True for the error a store throws when its backend cannot be reached (FRWS_ERR_STORE_UNAVAILABLE). */
export function isStoreUnavailable (error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === 'FRWS_ERR_STORE_UNAVAILABLE'
}
