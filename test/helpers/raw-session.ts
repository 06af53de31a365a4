// A reliable-mode client spoken by hand with `ws`, for attack tests: it handshakes, counts the
// frames it receives, never acknowledges anything unless told to, and can drop or resume.
import WebSocket from 'ws'
import { parseWelcome } from '../../lib/protocol/handshake.js'
import type { Welcome } from '../../lib/protocol/handshake.js'
import { SUBPROTOCOL } from '../../lib/protocol/version.js'
import { helloFrame, resumeOf } from './protocol-peer.js'
import type { ResumePosition } from '../../lib/protocol/handshake.js'

/** What a resume presents (the session id, epoch, position and current resume token). */
export type ResumeInfo = ResumePosition

/** One hand-spoken reliable connection. */
export interface RawSession {
  readonly socket: WebSocket
  readonly welcome: Welcome
  /** Sequenced frames received so far. */
  readonly received: () => number
  /** Resolves once `count` sequenced frames have arrived (rejects after `ms`). */
  waitFrames: (count: number, ms?: number) => Promise<void>
  /** Settles with the close code once the socket closed. */
  readonly closed: Promise<number>
  /** The position to present when resuming. */
  resumeInfo: () => ResumeInfo
}

/** Open `url`, send a hello (with `resume` if given) and wait for the welcome. */
export async function openRawSession (url: string, resume?: ResumeInfo, ms = 5000): Promise<RawSession> {
  const socket = new WebSocket(url, SUBPROTOCOL)
  let received = 0
  let waiter: { count: number, resolve: () => void } | undefined
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
  const welcome = await new Promise<Welcome>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no welcome within ${ms} ms`)), ms)
    socket.once('error', reject)
    void closed.then((code) => reject(new Error(`closed with ${code} before the welcome`)))
    socket.once('open', () => socket.send(helloFrame(resume === undefined ? {} : { resume })))
    socket.once('message', (data) => {
      clearTimeout(timer)
      try {
        resolve(parseWelcome(data.toString()))
      } catch (error) {
        reject(error)
      }
      socket.on('message', (frame: Buffer, isBinary) => {
        const first = isBinary ? String.fromCharCode(frame[0]) : frame.toString(undefined, 0, 1)
        if ('DQRE'.includes(first)) received++
        if (waiter !== undefined && received >= waiter.count) waiter.resolve()
      })
    })
  })
  return {
    socket,
    welcome,
    received: () => received,
    waitFrames: (count, waitMs = 5000) => new Promise<void>((resolve, reject) => {
      if (received >= count) { resolve(); return }
      const timer = setTimeout(() => reject(new Error(`only ${received} of ${count} frames within ${waitMs} ms`)), waitMs)
      waiter = { count, resolve: () => { clearTimeout(timer); waiter = undefined; resolve() } }
    }),
    closed,
    resumeInfo: () => resumeOf(welcome, received)
  }
}

/** Drop the TCP connection without a close frame and wait for the socket to close. */
export async function dropSession (session: RawSession): Promise<void> {
  session.socket.terminate()
  await session.closed
}
