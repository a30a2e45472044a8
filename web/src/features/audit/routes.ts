import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'audit',
    name: 'audit',
    title: '审计日志',
    roles: ['org_department'],
    component: () => import('./AuditPage.vue'),
    menu: { order: 70 },
  },
])
