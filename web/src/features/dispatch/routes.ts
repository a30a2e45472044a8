import { defineScreens } from '../registry'

// Placeholder entries: the feature's own screens replace ScreenPending.
export const screens = defineScreens([
  {
    path: 'needs',
    name: 'needs',
    title: '需求核查',
    roles: ['community_staff'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 11, group: '工作台' },
  },
  {
    path: 'tasks',
    name: 'tasks',
    title: '任务派单',
    roles: ['community_staff'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 12, group: '工作台' },
  },
  {
    path: 'completions',
    name: 'completions',
    title: '完成核验',
    roles: ['community_staff'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 13, group: '工作台' },
  },
  {
    path: 'ledger',
    name: 'ledger',
    title: '挂账销号台账',
    roles: ['community_staff', 'subdistrict'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 20 },
  },
  {
    path: 'codes',
    name: 'codes',
    title: '点单码与评价码',
    roles: ['community_staff'],
    component: () => import('@/components/ScreenPending.vue'),
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
