import { defineScreens } from '../registry'

// Needs, tasks, completions, the ledger and the residents' codes. A task's drawer has its own
// address (the task number only; the API decides whether this account may see it).
const ledger = () => import('./LedgerView.vue')
const completions = () => import('./CompletionsView.vue')

export const screens = defineScreens([
  {
    path: 'needs',
    name: 'needs',
    title: '需求核查',
    roles: ['community_staff', 'subdistrict'],
    component: () => import('./NeedsView.vue'),
    menu: { order: 11, group: '工作台' },
  },
  {
    path: 'tasks',
    name: 'tasks',
    title: '任务派单',
    roles: ['community_staff'],
    component: () => import('./TasksView.vue'),
    menu: { order: 12, group: '工作台' },
  },
  {
    path: 'completions',
    name: 'completions',
    title: '完成核验',
    roles: ['community_staff'],
    component: completions,
    menu: { order: 13, group: '工作台' },
  },
  {
    path: 'completions/:taskId(\\d+)',
    name: 'completions-task',
    title: '完成核验',
    roles: ['community_staff'],
    component: completions,
    activeMenu: 'completions',
  },
  {
    path: 'ledger',
    name: 'ledger',
    title: '挂账销号台账',
    roles: ['community_staff', 'subdistrict'],
    component: ledger,
    menu: { order: 20 },
  },
  {
    path: 'ledger/:taskId(\\d+)',
    name: 'ledger-task',
    title: '挂账销号台账',
    roles: ['community_staff', 'subdistrict'],
    component: ledger,
    activeMenu: 'ledger',
  },
  {
    path: 'codes',
    name: 'codes',
    title: '点单码与评价码',
    roles: ['community_staff'],
    component: () => import('./CodesView.vue'),
    menu: { order: 21 },
  },
  {
    path: 'escalations',
    name: 'escalations',
    title: '上报事项',
    roles: ['subdistrict'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 25 },
  },
])
