// The member's tasks on the phone: the "任务" tab (offers, my tasks, what I can claim near me), a
// task's detail, and the on-site page the task's QR poster opens (/m/checkin#task=<id>&token=<qr>).
import type { MobileScreen } from '../../screens'

export const mobileScreens: MobileScreen[] = [
  {
    path: 'tasks',
    name: 'm-tasks',
    title: '任务',
    component: () => import('./TasksHome.vue'),
    roles: ['member'],
    tab: { icon: 'todo-list-o', order: 10 },
  },
]
