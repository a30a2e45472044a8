import { defineScreens } from '../registry'

// Placeholder entries: the feature's own screens replace ScreenPending.
export const screens = defineScreens([
  {
    path: 'inbox',
    name: 'inbox',
    title: '消息',
    roles: ['community_staff', 'unit_admin', 'subdistrict', 'org_department'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 90 },
  },
])
