import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'campaigns',
    name: 'campaigns',
    title: '活动管理',
    roles: ['org_department', 'subdistrict'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 20 },
  },
])
