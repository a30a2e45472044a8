import { menuScreen } from '../registry'

export const screens = [menuScreen('dashboard', '首页', ['org_department', 'subdistrict'], () => import('./DashboardPage.vue'), { order: 1 })]
