import { defineScreens } from '../registry'

// Placeholder entries: the feature's own screens replace ScreenPending.
export const screens = defineScreens([
  {
    path: 'unit-transfers',
    name: 'unit-transfers',
    title: '转单位',
    roles: ['unit_admin'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 30 },
  },
])
