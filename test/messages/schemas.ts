/** The chat schemas of the typed-message tests, once with Zod and once with Valibot. */
import * as v from 'valibot'
import { z } from 'zod'

/** Zod: a chat route with data messages and requests both ways. */
export const zodChat = {
  fromClient: z.object({ type: z.literal('say'), text: z.string().min(1), tags: z.array(z.string()).optional() }),
  fromServer: z.object({ type: z.literal('said'), text: z.string(), at: z.number().int() }),
  requests: {
    fromClient: { request: z.object({ sum: z.array(z.number()) }), response: z.object({ total: z.number() }) },
    fromServer: { request: z.object({ ask: z.string() }), response: z.object({ answer: z.string() }) }
  }
}

/** Valibot: the same contract. */
export const valibotChat = {
  fromClient: v.object({ type: v.literal('say'), text: v.pipe(v.string(), v.minLength(1)), tags: v.optional(v.array(v.string())) }),
  fromServer: v.object({ type: v.literal('said'), text: v.string(), at: v.pipe(v.number(), v.integer()) }),
  requests: {
    fromClient: { request: v.object({ sum: v.array(v.number()) }), response: v.object({ total: v.number() }) },
    fromServer: { request: v.object({ ask: v.string() }), response: v.object({ answer: v.string() }) }
  }
}
