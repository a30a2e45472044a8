import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'unit-transfers',
    name: 'unit-transfers',
    title: '转单位',
    roles: ['unit_admin'],
    component: () => import('./UnitTransfersPage.vue'),
    menu: { order: 30 },
  },
])
