// The two pure helpers of a session's identity: routeIdentity (lib/reliable/route-identity.ts,
// the route a session is bound to) and sessionTag (lib/reliable/session-tag.ts, the id in logs).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { routeIdentity } from '../../lib/reliable/route-identity.js'
import { sessionTag } from '../../lib/reliable/session-tag.js'

const requestTo = (url: string): FastifyRequest => ({ url }) as unknown as FastifyRequest

describe('routeIdentity', () => {
  it('is the path as sent, without the query string', () => {
    assert.equal(routeIdentity(requestTo('/chat/room-1?x=1')), '/chat/room-1')
    assert.equal(routeIdentity(requestTo('/chat/room-1?')), '/chat/room-1')
    assert.equal(routeIdentity(requestTo('/a?b=1?c=2')), '/a', 'cut at the first ?')
  })

  it('is the whole url when there is no query string', () => {
    assert.equal(routeIdentity(requestTo('/chat/room-1')), '/chat/room-1')
    assert.equal(routeIdentity(requestTo('/')), '/')
  })
})

describe('sessionTag', () => {
  it('is the first 8 base64url characters of SHA-256 over the fixed label and the id', () => {
    for (const id of ['abcdefghijklmnopqrstuv', 'x', '']) {
      const expected = createHash('sha256').update(`fastify-reliable-ws session tag\n${id}`).digest('base64url').slice(0, 8)
      assert.equal(sessionTag(id), expected)
      assert.match(sessionTag(id), /^[A-Za-z0-9_-]{8}$/)
    }
  })
})
