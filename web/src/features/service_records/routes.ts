import { menuScreen } from '../registry'

export const screens = [
  menuScreen('service-records', '服务记录审核', ['community_staff'], () => import('./ServiceRecordsView.vue'), { order: 14, group: '工作台' }),
]
