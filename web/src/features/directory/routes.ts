import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'directory/units',
    name: 'directory-units',
    title: '单位名录',
    roles: ['org_department', 'subdistrict', 'community_staff'],
    component: () => import('./UnitsPage.vue'),
    menu: { order: 40, group: '名录' },
  },
  {
    path: 'directory/members',
    name: 'directory-members',
    title: '党员名录',
    roles: ['org_department', 'subdistrict', 'community_staff'],
    component: () => import('./MembersPage.vue'),
    menu: { order: 41, group: '名录' },
  },
  {
    path: 'unit-members',
    name: 'unit-members',
    title: '本单位党员',
    roles: ['unit_admin'],
    component: () => import('./UnitMembersPage.vue'),
    menu: { order: 10 },
  },
])
