// Words and colours of the dispatch states on the phone: the console's words (features/dispatch/labels.ts,
// the same as domain/task_rules.py), Vant's tag colours.
import { OFFER_STATUS, TASK_STATUS, TASK_STATUS_TAG } from '@/features/dispatch/labels'

export type Tone = 'primary' | 'success' | 'warning' | 'danger' | 'default'

export { OFFER_STATUS, TASK_STATUS }

/** The console's task colours in Vant's words (Element's grey "info" is Vant's "default"). */
export const TASK_TONE: Record<string, Tone> = Object.fromEntries(
  Object.entries(TASK_STATUS_TAG).map(([status, tag]) => [status, tag === 'info' ? 'default' : tag]),
)

export const OFFER_TONE: Record<string, Tone> = {
  offered: 'warning',
  accepted: 'success',
  declined: 'default',
  expired: 'default',
  withdrawn: 'default',
  no_show: 'danger',
}

/** A member's own place on a task (their assignment). */
export const ASSIGNMENT_STATUS: Record<string, string> = {
  accepted: '待签到',
  checked_in: '服务中',
  checked_out: '已签退',
  no_show: '未到场',
  withdrawn: '已退出',
}

export const ASSIGNMENT_TONE: Record<string, Tone> = {
  accepted: 'primary',
  checked_in: 'success',
  checked_out: 'success',
  no_show: 'danger',
  withdrawn: 'default',
}
