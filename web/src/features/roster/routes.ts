import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'roster',
    name: 'roster',
    title: '名册导入',
    roles: ['org_department', 'subdistrict'],
    component: () => import('./RosterImportPage.vue'),
    menu: { order: 50 },
  },
])
