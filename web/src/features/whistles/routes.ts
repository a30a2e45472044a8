import { defineScreens } from '../registry'

// Placeholder entries: the feature's own screens replace ScreenPending.
export const screens = defineScreens([
  {
    path: 'whistles',
    name: 'whistles',
    title: '吹哨报到',
    roles: ['community_staff', 'subdistrict'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 22 },
  },
])
