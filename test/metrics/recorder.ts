import diagnosticsChannel from 'node:diagnostics_channel'
import { CHANNEL_NAMES } from '../../lib/metrics/channels.js'

/** A channel's key in {@link CHANNEL_NAMES}. */
export type ChannelKey = keyof typeof CHANNEL_NAMES

/** Every message published on the plugin's channels, in order, until `stop()`. */
export interface ChannelRecorder {
  /** Every message of one channel, in order. */
  of: (key: ChannelKey) => Array<Record<string, unknown>>
  /** The channel keys in publishing order. */
  readonly order: ChannelKey[]
  stop: () => void
}

/** Subscribe to every channel of the plugin. */
export function recordChannels (): ChannelRecorder {
  const messages: Array<[ChannelKey, Record<string, unknown>]> = []
  const listeners: Array<[string, (message: unknown) => void]> = []
  for (const [key, name] of Object.entries(CHANNEL_NAMES) as Array<[ChannelKey, string]>) {
    const listener = (message: unknown): void => { messages.push([key, message as Record<string, unknown>]) }
    diagnosticsChannel.subscribe(name, listener)
    listeners.push([name, listener])
  }
  return {
    of: (key) => messages.filter(([k]) => k === key).map(([, message]) => message),
    get order () { return messages.map(([key]) => key) },
    stop: () => { for (const [name, listener] of listeners) diagnosticsChannel.unsubscribe(name, listener) }
  }
}
