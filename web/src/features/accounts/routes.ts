import { defineScreens } from '../registry'

// Placeholder entries: the feature's own screens replace ScreenPending.
export const screens = defineScreens([
  {
    path: 'accounts',
    name: 'accounts',
    title: '账号与令牌',
    roles: ['org_department'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 60 },
  },
])
