import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Emitter } from '../lib/client/emitter.js'

type Events = {
  data: [value: number, label: string]
  error: [error: Error]
}

describe('client emitter', () => {
  it('calls listeners in the order they were added, with the emitted arguments', () => {
    const emitter = new Emitter<Events>()
    const calls: string[] = []
    emitter.on('data', (value, label) => calls.push(`a:${value}:${label}`))
    emitter.on('data', (value, label) => calls.push(`b:${value}:${label}`))
    emitter.emit('data', 1, 'x')
    assert.deepEqual(calls, ['a:1:x', 'b:1:x'])
    assert.equal(emitter.listenerCount('data'), 2)
  })

  it('calls a once listener a single time', () => {
    const emitter = new Emitter<Events>()
    const values: number[] = []
    emitter.once('data', (value) => values.push(value))
    emitter.emit('data', 1, '')
    emitter.emit('data', 2, '')
    assert.deepEqual(values, [1])
    assert.equal(emitter.listenerCount('data'), 0)
  })

  it('removes listeners with off and with the function on returns', () => {
    const emitter = new Emitter<Events>()
    const values: number[] = []
    const listener = (value: number): void => { values.push(value) }
    const remove = emitter.on('data', (value) => values.push(value * 10))
    emitter.on('data', listener)
    emitter.emit('data', 1, '')
    remove()
    emitter.off('data', listener)
    emitter.emit('data', 2, '')
    assert.deepEqual(values, [10, 1])
  })

  it('keeps calling the other listeners when one throws and hands the error to the handler', () => {
    const caught: unknown[] = []
    const emitter = new Emitter<Events>((error) => caught.push(error))
    const values: number[] = []
    emitter.on('data', () => { throw new Error('listener broke') })
    emitter.on('data', (value) => values.push(value))
    emitter.emit('data', 7, '')
    assert.deepEqual(values, [7])
    assert.equal((caught[0] as Error).message, 'listener broke')
  })

  it('rethrows a listener error in a microtask by default instead of to the emitter', () => {
    const emitter = new Emitter<Events>()
    emitter.on('data', () => { throw new Error('late') })
    const original = globalThis.queueMicrotask
    const queued: Array<() => void> = []
    globalThis.queueMicrotask = (callback) => { queued.push(callback) }
    try {
      assert.doesNotThrow(() => emitter.emit('data', 1, ''))
    } finally {
      globalThis.queueMicrotask = original
    }
    assert.equal(queued.length, 1)
    assert.throws(queued[0], /late/)
  })

  it('emits to the listeners present when the emit began', () => {
    const emitter = new Emitter<Events>()
    const calls: string[] = []
    const second = (): void => { calls.push('second') }
    emitter.on('data', () => {
      calls.push('first')
      emitter.off('data', second)
      emitter.on('data', () => calls.push('added'))
    })
    emitter.on('data', second)
    emitter.emit('data', 1, '')
    assert.deepEqual(calls, ['first', 'second'])
    emitter.emit('data', 2, '')
    assert.deepEqual(calls, ['first', 'second', 'first', 'added'])
  })

  it('emits error without listeners silently and removeAllListeners clears everything', () => {
    const reported: unknown[] = []
    const emitter = new Emitter<Events>((error) => reported.push(error))
    // Unlike node:events, an unheard error is neither thrown nor handed to the listener-error handler.
    emitter.emit('error', new Error('nobody listens'))
    assert.deepEqual(reported, [])
    const calls: string[] = []
    emitter.on('data', () => calls.push('data'))
    emitter.on('error', () => calls.push('error'))
    emitter.removeAllListeners()
    assert.equal(emitter.listenerCount('data') + emitter.listenerCount('error'), 0)
    emitter.emit('data', 1, '')
    emitter.emit('error', new Error('after the clear'))
    assert.deepEqual(calls, [])
    assert.deepEqual(reported, [])
  })
})
