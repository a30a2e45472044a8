import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'evaluation',
    name: 'evaluation',
    title: '考核评价',
    roles: ['org_department', 'subdistrict'],
    component: () => import('./EvaluationPage.vue'),
    menu: { order: 30 },
  },
  {
    path: 'evaluation-feedback',
    name: 'evaluation-feedback',
    title: '考核反馈表',
    roles: ['unit_admin'],
    component: () => import('./FeedbackPage.vue'),
    menu: { order: 40 },
  },
])
