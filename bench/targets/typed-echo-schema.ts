import { z } from 'zod'

/**
 * The schema of the typed echo targets: the load's JSON payload `{"text":"xx…"}` (bench/load/echo-load.ts).
 * Zod, because it is the most used Standard Schema library; the same schema both ways.
 */
export const ECHO_MESSAGES = {
  fromClient: z.object({ text: z.string() }),
  fromServer: z.object({ text: z.string() })
}
