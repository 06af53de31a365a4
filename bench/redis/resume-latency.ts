import WebSocket from 'ws'
import { ReliableClient } from '../../lib/client/index.js'
import type { SessionStore } from '../../lib/store/session-store.js'
import { RESUME_PATH } from './paths.js'

/** Where the balancer sends a reconnect while the previous node is still writing: a closed port. */
const NOWHERE = 'ws://127.0.0.1:1'
/** Longest wait for one resume, in ms: past it the run fails instead of hanging. */
const SAMPLE_TIMEOUT = 30_000

/**
 * Resume latency across nodes, with the shipped client: per sample, the client arms its node
 * (`arm:<replay>`), its socket is cut, the node sends `replay` messages to the suspended session
 * (recorded in Redis), and once the store holds them the client is let through to the next node.
 * Timed: from the construction of the socket to the new node until the last of those messages
 * has arrived (connect, upgrade, hello, claim in Redis, welcome, replay). Samples in ms.
 */
export async function measureResume (ports: number[], store: SessionStore, samples: number, replay: number): Promise<number[]> {
  let target = `ws://127.0.0.1:${ports[0]}`
  let openedAt = 0
  const sockets: WebSocket[] = []
  class BalancedWebSocket extends WebSocket {
    constructor (address: string, protocols?: string | string[]) {
      super(address, protocols)
      if (!address.startsWith(NOWHERE)) openedAt = performance.now()
      sockets.push(this)
    }
  }
  const client = new ReliableClient(() => `${target}${RESUME_PATH}`, { WebSocket: BalancedWebSocket, baseDelay: 2, maxDelay: 10 })
  let received = 0
  let waiter: (() => void) | undefined
  let expected = 0
  client.on('message', () => {
    received++
    if (received >= expected) waiter?.()
  })
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve())
    client.once('end', ({ code, reason }) => reject(new Error(`resume client ended: ${code} ${reason}`)))
  })
  const sessionId = client.sessionId ?? ''
  let serverSeq = 0
  const results: number[] = []
  for (let i = 1; i <= samples; i++) {
    await client.send(`arm:${replay}`)
    expected = received + replay
    serverSeq += replay
    target = NOWHERE
    for (const socket of sockets.splice(0)) socket.terminate()
    const deadline = performance.now() + SAMPLE_TIMEOUT
    while (((await store.get(sessionId))?.serverSeq ?? 0) < serverSeq) {
      if (performance.now() > deadline) throw new Error(`resume ${i}: the suspended session's messages never reached Redis`)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    const done = new Promise<void>((resolve, reject) => {
      waiter = resolve
      timer = setTimeout(() => reject(new Error(`resume ${i}: replay not done within ${SAMPLE_TIMEOUT} ms (${received}/${expected} messages)`)), SAMPLE_TIMEOUT)
    })
    target = `ws://127.0.0.1:${ports[i % ports.length]}`
    await done
    clearTimeout(timer)
    waiter = undefined
    results.push(performance.now() - openedAt)
  }
  await client.close()
  return results
}
