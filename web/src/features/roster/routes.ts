import { menuScreen } from '../registry'

export const screens = [menuScreen('roster', '名册导入', ['org_department', 'subdistrict'], () => import('./RosterImportPage.vue'), { order: 50 })]
