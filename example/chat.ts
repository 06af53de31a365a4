/**
 * The chat of the example: a reliable route where each message names its room. Messages typed
 * while offline are queued by the client and delivered once; the member list comes from the
 * connection registry (`fastify.wsConnections.room()`).
 *
 * Client to server (JSON text): `{ "type": "say", "room": "lobby", "text": "hi", "id": "k3" }`
 * (joins the room first when needed) and `{ "type": "join", "room": "lobby" }`.
 * Server to client: `{ "type": "said", "room", "from", "text", "id" }` to every member, the sender
 * included, and `{ "type": "members", "room", "members": [names] }` when the room changes.
 */
import type { FastifyInstance } from 'fastify'
import type { ReliableConnection } from '../lib/index.js'
import { CHAT_PATH } from './config.js'

/** What the chat keeps per connection. */
interface ChatData {
  name: string
  room: string | undefined
}

/** Longest room name, name and message text, in characters. */
const MAX_NAME = 40
const MAX_TEXT = 2000

type ChatCommand = { type: 'join', room: string } | { type: 'say', room: string, text: string, id: string }

function parseCommand (data: string | Buffer): ChatCommand | undefined {
  let value: unknown
  try {
    value = JSON.parse(String(data))
  } catch {
    return undefined
  }
  const command = value as Record<string, unknown>
  if (typeof command !== 'object' || command === null || !isName(command.room)) return undefined
  if (command.type === 'join') return { type: 'join', room: command.room }
  if (command.type === 'say' && typeof command.text === 'string' && command.text.length <= MAX_TEXT && typeof command.id === 'string') {
    return { type: 'say', room: command.room, text: command.text, id: command.id.slice(0, MAX_NAME) }
  }
  return undefined
}

function isName (value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '' && value.length <= MAX_NAME
}

/** Declare the chat route on `app` (after the plugin is registered). */
export function registerChat (app: FastifyInstance): void {
  function publishMembers (room: string): void {
    const members = [...app.wsConnections.room(room)].map((member) => (member.data as Partial<ChatData>).name ?? '?').sort()
    app.wsConnections.broadcast(JSON.stringify({ type: 'members', room, members }), { room })
  }

  function moveTo (connection: ReliableConnection<ChatData>, room: string): void {
    if (connection.data.room === room) return
    const previous = connection.data.room
    if (previous !== undefined) connection.leave(previous)
    connection.data.room = room
    connection.join(room)
    if (previous !== undefined) publishMembers(previous)
    publishMembers(room)
  }

  app.wsRoute<ChatData>(CHAT_PATH, { reliable: true }, (connection, request) => {
    const { name } = request.query as { name?: string }
    connection.data.name = isName(name) ? name.trim() : `guest-${connection.id.slice(-4)}`
    connection.data.room = undefined
    connection.on('message', (data) => {
      const command = parseCommand(data)
      if (command === undefined) {
        connection.log.warn({ connectionId: connection.id }, 'chat: ignored a malformed command')
        return
      }
      moveTo(connection, command.room)
      if (command.type === 'say') {
        const said = { type: 'said', room: command.room, from: connection.data.name, text: command.text, id: command.id }
        app.wsConnections.broadcast(JSON.stringify(said), { room: command.room })
      }
    })
    connection.on('close', () => {
      // Rooms are left automatically on close; the others still need the new member list.
      if (connection.data.room !== undefined) publishMembers(connection.data.room)
    })
  })
}
