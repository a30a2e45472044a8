import { defineScreens } from '../registry'

// Placeholder entries: the feature's own screens replace ScreenPending.
export const screens = defineScreens([
  {
    path: 'certificates',
    name: 'certificates',
    title: '报到证',
    roles: ['unit_admin'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 20 },
  },
])
