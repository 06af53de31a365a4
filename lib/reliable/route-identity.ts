/**
 * The route a session belongs to (docs/PROTOCOL.md, "Handshake and resume"; docs/SECURITY.md).
 * A resume is accepted only on the route that created the session (else 4421), so a session made
 * behind one route's authentication cannot be continued through another route's weaker hooks.
 */
import type { FastifyRequest } from 'fastify'

/**
 * The identity of the route an upgrade request came through: its path as the client sent it,
 * without the query string (`/chat/room-1` for `/chat/room-1?x=1`). The concrete path rather
 * than the route pattern, so that `/chat/:room` sessions do not move between rooms. It does not
 * depend on the node, so a store shared by several nodes resumes across them.
 */
export function routeIdentity (request: FastifyRequest): string {
  const url = request.url
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}
