// lib/transport/ws-transport.ts against its mutants, on real sockets: a reliable session keeps
// a long text it sends (TEXT_AS_BYTES_MIN_LENGTH UTF-16 units or more) as UTF-8 bytes
// (TextFrameBytes); those bytes must still leave in text frames,
// and bytes the application sent in binary frames. A hand-spoken protocol client reads the frames
// as they arrive (test/helpers/protocol-peer.ts).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startReliable } from '../helpers/protocol-peer.js'
import { TEXT_AS_BYTES_MIN_LENGTH } from '../../lib/reliable/server-frames.js'

const LONG = 'é'.repeat(TEXT_AS_BYTES_MIN_LENGTH)

describe('the ws transport of a reliable session', () => {
  it('sends text data frames as text (short ones, and long ones kept as bytes) and binary data frames as binary', async (t) => {
    const server = await startReliable({ reliable: true }, {}, (connection) => {
      void connection.send('héllo')
      void connection.send(Buffer.from([0, 1, 2, 255]))
      void connection.send(LONG)
      void connection.send('end')
    })
    t.after(() => server.stop())
    const peer = await server.peer()
    await peer.handshake()
    const frames = [await peer.nextOfType('D'), await peer.nextOfType('D'), await peer.nextOfType('D'), await peer.nextOfType('D')]
    assert.deepEqual(frames.map((f) => f.isBinary), [false, true, false, false], 'text, binary, long text, text')
    assert.equal(frames[0].raw, 'D1:héllo')
    assert.deepEqual([...(frames[1].raw as Buffer).subarray(-4)], [0, 1, 2, 255])
    assert.equal(frames[2].raw, `D3:${LONG}`)
    assert.equal(frames[3].raw, 'D4:end')
  })
})
