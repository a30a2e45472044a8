import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'inbox',
    name: 'inbox',
    title: '消息',
    roles: ['community_staff', 'unit_admin', 'subdistrict', 'org_department'],
    component: () => import('./InboxView.vue'),
    menu: { order: 90 },
  },
])
