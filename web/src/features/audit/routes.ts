import { menuScreen } from '../registry'

export const screens = [menuScreen('audit', '审计日志', ['org_department'], () => import('./AuditPage.vue'), { order: 70 })]
