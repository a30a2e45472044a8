import { defineScreens } from '../registry'

// Placeholder entries: the feature's own screens replace ScreenPending.
export const screens = defineScreens([
  {
    path: 'directory/units',
    name: 'directory-units',
    title: '单位名录',
    roles: ['org_department', 'subdistrict', 'community_staff'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 40, group: '名录' },
  },
  {
    path: 'directory/members',
    name: 'directory-members',
    title: '党员名录',
    roles: ['org_department', 'subdistrict', 'community_staff'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 41, group: '名录' },
  },
  {
    path: 'unit-members',
    name: 'unit-members',
    title: '本单位党员',
    roles: ['unit_admin'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 10 },
  },
])
