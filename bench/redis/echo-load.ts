import { reliableDriver } from '../load/drivers/reliable.js'
import type { EchoLink } from '../load/drivers/driver.js'

/** A closed-loop reliable echo load on one node. */
export interface ReliableEcho {
  /** Echoes received so far. */
  replies (): number
  /** Stop sending and drop the connections. */
  stop (): void
}

/**
 * `connections` reliable clients speaking the protocol at the frame level (the main bench's
 * driver, bench/load/drivers/reliable.ts), each keeping `inFlight` messages of `payload`
 * outstanding and acknowledging echoes as the real client does.
 */
export async function startReliableEcho (port: number, connections: number, inFlight: number, payload: string): Promise<ReliableEcho> {
  const links: EchoLink[] = []
  let replies = 0
  let running = true
  for (let i = 0; i < connections; i++) {
    const index = i
    links.push(await reliableDriver(port, {
      reply: (count) => {
        replies += count
        if (running) links[index].send(payload, count)
      },
      close: () => {}
    }))
  }
  for (const link of links) link.send(payload, inFlight)
  return {
    replies: () => replies,
    stop: () => {
      running = false
      for (const link of links) link.close()
    }
  }
}
