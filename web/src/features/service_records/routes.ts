import { defineScreens } from '../registry'

// Placeholder entries: the feature's own screens replace ScreenPending.
export const screens = defineScreens([
  {
    path: 'service-records',
    name: 'service-records',
    title: '服务记录审核',
    roles: ['community_staff'],
    component: () => import('@/components/ScreenPending.vue'),
    menu: { order: 14, group: '工作台' },
  },
])
