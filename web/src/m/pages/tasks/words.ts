// How a task reads on the phone: its time window and place in one line, its mode in a word.
import { formatDateTime } from '@/components/datetime'

import type { Task } from './calls'

export const MODE_WORD: Record<string, string> = { dispatch: '派单', claim: '认领', post: '岗位' }

/** "12-05 09:00 至 11:00 · 3号楼" (the end's date only when it differs). */
export function whenWhere(task: Task): string {
  const start = formatDateTime(task.window_start)
  const end = formatDateTime(task.window_end)
  const endShown = end.slice(0, 10) === start.slice(0, 10) ? end.slice(11) : end.slice(5)
  return `${start.slice(5)} 至 ${endShown}${task.place ? ` · ${task.place}` : ''}`
}
