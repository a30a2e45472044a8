import { defineScreens } from '../registry'

// Placeholder entries: the feature's own screens replace ScreenPending.
export const screens = defineScreens([
  {
    path: 'audit',
    name: 'audit',
    title: '审计日志',
    roles: ['org_department'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 70 },
  },
])
