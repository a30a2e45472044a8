import { defineScreens } from '../registry'

// 工作台: the community's work queues with their counts (a subdistrict sees its communities' sums).
export const screens = defineScreens([
  {
    path: 'workbench',
    name: 'workbench',
    title: '待办总览',
    roles: ['community_staff', 'subdistrict'],
    component: () => import('./WorkbenchView.vue'),
    menu: { order: 5, group: '工作台' },
  },
])
