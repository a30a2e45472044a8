// Opening a notification marks it read (console and mobile inbox alike): the list then holds the
// API's copy of it in its place. An already read one makes no call.
import { api } from '@/api/client'
import { unwrap } from '@/api/errors'
import type { components } from '@/api/schema'

type Note = components['schemas']['Notification']

export async function markRead(notes: Note[], note: Note): Promise<Note[]> {
  if (note.read_at) return notes
  const read = unwrap(await api.POST('/inbox/{notification_id}/read', { params: { path: { notification_id: note.id } } }))
  return notes.map((n) => (n.id === read.id ? read : n))
}
