import { defineScreens } from '../registry'

// Placeholder entries: the feature's own screens replace ScreenPending.
export const screens = defineScreens([
  {
    path: 'roster',
    name: 'roster',
    title: '名册导入',
    roles: ['org_department'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 50 },
  },
])
