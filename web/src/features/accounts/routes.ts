import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'accounts',
    name: 'accounts',
    title: '账号与令牌',
    roles: ['org_department'],
    component: () => import('./AccountsPage.vue'),
    menu: { order: 60 },
  },
])
