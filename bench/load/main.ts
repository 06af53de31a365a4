import { parentChannel } from '../lib/ipc.js'
import type { EchoJob, EchoSnapshotRequest, IdleJob, TrafficRequest } from '../lib/load-protocol.js'
import { EchoLoad } from './echo-load.js'
import { IdleLoad } from './idle-load.js'

/**
 * The load generator process, started by bench/run.ts on its own core. It runs one echo load or
 * one idle load at a time, as the runner asks (see bench/lib/load-protocol.ts).
 */
const channel = parentChannel()
let echo: EchoLoad | undefined
const idle = new IdleLoad()

function runningEcho (): EchoLoad {
  if (echo === undefined) throw new Error('no echo load running')
  return echo
}

channel.handle('echo:start', async (job: EchoJob) => {
  if (echo !== undefined) throw new Error('an echo load is already running')
  echo = await EchoLoad.start(job)
  return null
})
channel.handle('echo:snapshot', (request: EchoSnapshotRequest) => runningEcho().snapshot(request.resetLatency))
channel.handle('echo:stop', () => {
  runningEcho().stop()
  echo = undefined
  return null
})

channel.handle('idle:open', (job: IdleJob) => idle.open(job))
channel.handle('idle:traffic', (request: TrafficRequest) => idle.setTraffic(request.interval))
channel.handle('idle:snapshot', () => idle.snapshot())

channel.handle('exit', () => {
  echo?.stop()
  idle.stop()
  setImmediate(() => process.exit(0))
  return null
})
channel.announceReady()
