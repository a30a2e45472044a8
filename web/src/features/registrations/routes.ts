import { defineScreens } from '../registry'

// Placeholder entries: the feature's own screens replace ScreenPending.
export const screens = defineScreens([
  {
    path: 'registrations',
    name: 'registrations',
    title: '报到确认',
    roles: ['community_staff'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 10, group: '工作台' },
  },
])
