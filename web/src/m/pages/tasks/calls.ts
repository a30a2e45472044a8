// The member's task calls (typed by the generated schema): my tasks, a task, and what a member does
// on one: answer an offer, claim, check in and out with the poster's token. Each returns the data
// or throws ApiFailure (its body carries the API's Chinese message), as useApiForm expects.
import { api } from '@/api/client'
import { unwrap } from '@/api/errors'
import type { components } from '@/api/schema'
import { session } from '@/api/session'

export type Task = components['schemas']['TaskView']
export type MyTask = components['schemas']['MyTask']

/** The signed-in member's id (every call acts for the member themselves). */
export function memberId(): number {
  const id = session.me?.scope_id
  if (session.me?.role !== 'member' || id == null) throw new Error('仅党员本人可以办理')
  return id
}

const onTask = (taskId: number) => ({ params: { path: { task_id: taskId } } })

export async function myTasks(): Promise<MyTask[]> {
  return unwrap(await api.GET('/me/tasks', { params: { query: { limit: 100 } } }))
}

/** My view of a task, or null when it is not (yet) mine (e.g. one I can claim). */
export async function myTask(taskId: number): Promise<MyTask | null> {
  const result = await api.GET('/me/tasks/{task_id}', onTask(taskId))
  if (result.response.status === 404) return null
  return unwrap(result)
}

export async function task(taskId: number): Promise<Task> {
  return unwrap(await api.GET('/tasks/{task_id}', onTask(taskId)))
}

export async function claimable(): Promise<Task[]> {
  return unwrap(await api.GET('/tasks/claimable', { params: { query: { limit: 50 } } }))
}

export async function answer(taskId: number, accept: boolean, reason?: string): Promise<void> {
  unwrap(await api.POST('/tasks/{task_id}/answer', { ...onTask(taskId), body: { member_id: memberId(), accept, reason } }))
}

export async function claim(taskId: number): Promise<void> {
  unwrap(await api.POST('/tasks/{task_id}/claim', { ...onTask(taskId), body: { member_id: memberId() } }))
}

export async function checkIn(taskId: number, token: string): Promise<void> {
  unwrap(await api.POST('/tasks/{task_id}/check-in', { ...onTask(taskId), body: { member_id: memberId(), token } }))
}

export async function checkOut(taskId: number, token: string, report: string): Promise<number | null> {
  const done = unwrap(
    await api.POST('/tasks/{task_id}/check-out', { ...onTask(taskId), body: { member_id: memberId(), token, report } }),
  )
  return done.hours ?? null
}
