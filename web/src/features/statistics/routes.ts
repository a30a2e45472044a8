import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'dashboard',
    name: 'dashboard',
    title: '首页',
    roles: ['org_department', 'subdistrict'],
    component: () => import('./DashboardPage.vue'),
    menu: { order: 1 },
  },
])
