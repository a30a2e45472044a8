import { menuScreen } from '../registry'

export const screens = [
  menuScreen('evaluation', '考核评价', ['org_department', 'subdistrict'], () => import('./EvaluationPage.vue'), { order: 30 }),
  menuScreen('evaluation-feedback', '考核反馈表', ['unit_admin'], () => import('./FeedbackPage.vue'), { order: 40 }),
]
