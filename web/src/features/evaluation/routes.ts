import { defineScreens } from '../registry'

// Placeholder entries: the feature's own screens replace ScreenPending.
export const screens = defineScreens([
  {
    path: 'evaluation',
    name: 'evaluation',
    title: '考核评价',
    roles: ['org_department', 'subdistrict'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 30 },
  },
  {
    path: 'evaluation-feedback',
    name: 'evaluation-feedback',
    title: '反馈表',
    roles: ['unit_admin'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 40 },
  },
])
