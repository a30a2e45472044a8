import { menuScreen } from '../registry'

// 工作台: the community's work queues with their counts (a subdistrict sees its communities' sums).
export const screens = [
  menuScreen('workbench', '待办总览', ['community_staff', 'subdistrict'], () => import('./WorkbenchView.vue'), { order: 5, group: '工作台' }),
]
