import WebSocket from 'ws'
import { corkUntilNextTick, transportOf } from '../write-batcher.js'

type SendData = Parameters<WebSocket['send']>[0]
type SendCallback = (error?: Error) => void
type SendOptions = Exclude<Parameters<WebSocket['send']>[1], SendCallback | undefined>

/**
 * `ws`'s `WebSocket` with the frames sent in one event-loop turn written together: the first
 * `send()` of a turn corks the TCP socket and one `process.nextTick` uncorks it, the same
 * batching the server applies to its own writes (lib/write-batcher.ts). `ws` corks around one
 * frame only, so without this every frame costs a `write` system call: a client that answers a
 * burst of replies with a burst of sends spends most of its time there.
 *
 * Everything else is `ws`'s own `WebSocket`. Node only.
 */
export class BatchingWebSocket extends WebSocket {
  override send (data: SendData, callback?: SendCallback): void
  override send (data: SendData, options: SendOptions, callback?: SendCallback): void
  override send (data: SendData, optionsOrCallback?: SendOptions | SendCallback, callback?: SendCallback): void {
    // Before the open (ws throws) and while closing (ws reports an error) nothing is written.
    if (this.readyState === WebSocket.OPEN) corkUntilNextTick(transportOf(this))
    // ws takes a callback in the place of the options, as here.
    super.send(data, optionsOrCallback as SendOptions, callback)
  }
}
