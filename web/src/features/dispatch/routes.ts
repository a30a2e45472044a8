import type { Role } from '@/api/session'

import { innerScreen, menuScreen } from '../registry'

// Needs, tasks, completions, the ledger and the residents' codes. A task's drawer has its own
// address (the task number only; the API decides whether this account may see it).
const ledger = () => import('./LedgerView.vue')
const completions = () => import('./CompletionsView.vue')
const staff: Role[] = ['community_staff']
const staffAndSubdistrict: Role[] = ['community_staff', 'subdistrict']
const desk = (order: number) => ({ order, group: '工作台' })

export const screens = [
  menuScreen('needs', '需求核查', staffAndSubdistrict, () => import('./NeedsView.vue'), desk(11)),
  menuScreen('tasks', '任务派单', staff, () => import('./TasksView.vue'), desk(12)),
  menuScreen('completions', '完成核验', staff, completions, desk(13)),
  innerScreen('completions/:taskId(\\d+)', 'completions-task', '完成核验', staff, completions, 'completions'),
  menuScreen('ledger', '挂账销号台账', staffAndSubdistrict, ledger, { order: 20 }),
  innerScreen('ledger/:taskId(\\d+)', 'ledger-task', '挂账销号台账', staffAndSubdistrict, ledger, 'ledger'),
  menuScreen('codes', '点单码与评价码', staff, () => import('./CodesView.vue'), { order: 21 }),
  menuScreen('escalations', '上报事项', ['subdistrict'], () => import('@/components/ScreenPending.vue'), { order: 25 }),
]
