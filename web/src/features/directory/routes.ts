import type { Role } from '@/api/session'

import { menuScreen } from '../registry'

const readers: Role[] = ['org_department', 'subdistrict', 'community_staff']

export const screens = [
  menuScreen('directory/units', '单位名录', readers, () => import('./UnitsPage.vue'), { order: 40, group: '名录' }),
  menuScreen('directory/members', '党员名录', readers, () => import('./MembersPage.vue'), { order: 41, group: '名录' }),
  menuScreen('unit-members', '本单位党员', ['unit_admin'], () => import('./UnitMembersPage.vue'), { order: 10 }),
]
