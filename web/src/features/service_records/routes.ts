import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'service-records',
    name: 'service-records',
    title: '服务记录审核',
    roles: ['community_staff'],
    component: () => import('./ServiceRecordsView.vue'),
    menu: { order: 14, group: '工作台' },
  },
])
