// The member's tasks on the phone: the "任务" tab (offers, my tasks, what I can claim near me), a
// task's detail, and the on-site page the task's QR poster opens (/m/checkin#task=<id>&token=<qr>),
// which checks in on arrival and out, with a short service record, at the end.
import type { MobileScreen } from '../../screens'

// The on-site page is in the first load itself: on a phone network a lazy chunk after the entry
// would cost a round trip before the member can press 签到 (the mobile build is one script now, and
// the server puts it inside the page a poster opens: web/vite.config.ts, api/web.py).
import CheckinPage from './CheckinPage.vue'

export const mobileScreens: MobileScreen[] = [
  {
    path: 'tasks',
    name: 'm-tasks',
    title: '任务',
    component: () => import('./TasksHome.vue'),
    roles: ['member'],
    tab: { icon: 'todo-list-o', order: 10 },
  },
  {
    path: 'tasks/:id(\\d+)',
    name: 'm-task',
    title: '任务详情',
    component: () => import('./TaskDetail.vue'),
    roles: ['member'],
    back: true,
  },
  {
    path: 'checkin',
    name: 'm-checkin',
    title: '扫码签到',
    component: () => Promise.resolve(CheckinPage),
    roles: ['member'],
    back: true,
    onSite: true,
  },
]
