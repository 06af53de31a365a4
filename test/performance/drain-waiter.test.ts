import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, connect } from 'node:net'
import type { Socket } from 'node:net'
import { DrainWaiter } from '../../lib/limits/drain-waiter.js'

/** A connected TCP pair on 127.0.0.1: `writer` writes, `reader` starts paused. */
async function socketPair (): Promise<{ writer: Socket, reader: Socket, close: () => void }> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address() as { port: number }
  const accepted = once(server, 'connection') as Promise<[Socket]>
  const writer = connect(address.port, '127.0.0.1')
  const [reader] = await accepted
  reader.pause()
  return { writer, reader, close: () => { writer.destroy(); reader.destroy(); server.close() } }
}

/** Write until the writer's buffer passes its high-water mark. */
function congest (writer: Socket): void {
  const chunk = Buffer.alloc(64 * 1024)
  while (writer.write(chunk)) { /* fill */ }
}

test('one waiter serves every congestion of a socket: one drain listener, one promise per congestion', async (t) => {
  const { writer, reader, close } = await socketPair()
  t.after(close)
  const listenersBefore = writer.listenerCount('drain')
  const settled: boolean[] = []
  const waiter = new DrainWaiter(writer, 60_000, (drained) => settled.push(drained))
  for (let round = 1; round <= 3; round++) {
    congest(writer)
    const first = waiter.wait()
    assert.equal(waiter.wait(), first, 'the senders of one congestion share its promise')
    reader.resume()
    await first
    reader.pause()
    assert.equal(writer.listenerCount('drain'), listenersBefore + 1)
  }
  assert.deepEqual(settled, [true, true, true])
  waiter.fail(new Error('closed'))
  assert.equal(writer.listenerCount('drain'), listenersBefore)
})

/** Write until even the kernel's buffers are full: the writer's own buffer stops draining. */
async function stall (writer: Socket): Promise<void> {
  const chunk = Buffer.alloc(1024 * 1024)
  for (;;) {
    while (writer.write(chunk)) { /* fill */ }
    const length = writer.writableLength
    await new Promise((resolve) => setTimeout(resolve, 50))
    if (writer.writableLength === length) return
  }
}

test('a congestion that makes no progress within the timeout is reported once, and fail() rejects its senders', async (t) => {
  const { writer, close } = await socketPair()
  t.after(close)
  const settled: boolean[] = []
  await stall(writer)
  const waiter = new DrainWaiter(writer, 100, (drained) => settled.push(drained))
  const waiting = waiter.wait()
  const started = Date.now()
  while (settled.length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
  assert.ok(Date.now() - started >= 90, 'not before the timeout')
  assert.deepEqual(settled, [false])
  waiter.fail(new Error('cut'))
  await assert.rejects(waiting, /cut/)
})
