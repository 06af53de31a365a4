// The chat page: the reliable client from the shipped browser bundle on the /chat route
// (example/chat.ts). Messages typed while offline wait in the outbox and are delivered once.
import { ReliableClient } from '/client/client.min.js'

const params = new URLSearchParams(location.search)
const name = params.get('name') || `guest-${Math.random().toString(36).slice(2, 6)}`
let room = params.get('room') || 'lobby'
const pageId = Math.random().toString(36).slice(2, 8)
let counter = 0

const $ = (id) => document.getElementById(id)
const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://'
const client = new ReliableClient(`${scheme}${location.host}/chat?name=${encodeURIComponent(name)}`)
const outbox = new Map()

$('name').textContent = name
$('room-name').textContent = room
$('room').value = room

function setStatus (state) {
  $('status').textContent = state
  $('status').dataset.state = state
}

function event (text) {
  const line = document.createElement('div')
  line.textContent = `${new Date().toLocaleTimeString()}  ${text}`
  $('events').prepend(line)
}

function join () {
  client.send(JSON.stringify({ type: 'join', room })).catch(() => {})
}

function say (text) {
  const id = `${pageId}-${++counter}`
  const item = document.createElement('div')
  item.className = 'pending'
  item.textContent = text
  $('outbox').append(item)
  outbox.set(id, item)
  client.send(JSON.stringify({ type: 'say', room, text, id })).catch((error) => {
    item.className = 'failed'
    item.textContent = `${text} (not delivered: ${error.message})`
  })
}

function show (message) {
  outbox.get(message.id)?.remove()
  outbox.delete(message.id)
  const line = document.createElement('div')
  line.className = 'message'
  line.dataset.id = message.id
  const from = document.createElement('b')
  from.textContent = message.from
  line.append(from, `: ${message.text}`)
  $('log').append(line)
  $('log').scrollTop = $('log').scrollHeight
}

function showMembers (members) {
  $('members').replaceChildren(...members.map((member) => {
    const item = document.createElement('li')
    item.textContent = member
    return item
  }))
}

client.on('open', () => { setStatus('connected'); event('connected'); join() })
client.on('reconnecting', ({ delay }) => { setStatus('reconnecting'); event(`reconnecting in ${delay} ms`) })
client.on('resumed', ({ continuity }) => {
  if (continuity) {
    setStatus('resumed')
    event('resumed: nothing lost')
  } else {
    // A new session on the server: its handler knows nothing of this page yet.
    join()
  }
})
client.on('continuityLost', ({ lost }) => {
  setStatus('continuity lost')
  event(`continuity lost: ${lost} message(s) may not have arrived; new session`)
})
client.on('message', (data) => {
  const message = JSON.parse(data)
  if (message.room !== room) return
  if (message.type === 'said') show(message)
  else if (message.type === 'members') showMembers(message.members)
})
client.on('end', ({ error }) => { setStatus('closed'); event(`closed${error ? `: ${error.message}` : ''}`) })

// Leaving the page ends the session (1000) at once, so the others' member lists drop this page
// now rather than after the server's sessionTimeout.
window.addEventListener('pagehide', () => { client.close() })

$('form').addEventListener('submit', (submitted) => {
  submitted.preventDefault()
  const text = $('text').value.trim()
  if (text !== '') say(text)
  $('text').value = ''
})

$('room-form').addEventListener('submit', (submitted) => {
  submitted.preventDefault()
  const next = $('room').value.trim()
  if (next === '' || next === room) return
  room = next
  $('room-name').textContent = room
  $('log').replaceChildren()
  showMembers([])
  join()
})
