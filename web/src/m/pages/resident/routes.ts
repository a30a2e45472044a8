// The residents' pages (no account): a grid's 点单码 opens the need form, the receipt's link follows
// the need's state, a task's 评价码 opens the rating page, and a community's public board 晒单.
// Codes ride in the URL's hash (#code=..., #follow=...), never its path or query.
import type { MobileScreen } from '../../screens'

export const mobileScreens: MobileScreen[] = [
  { path: 'need', name: 'm-resident-need', title: '居民点单', component: () => import('./NeedPage.vue'), public: true },
  {
    path: 'need/status',
    name: 'm-resident-need-status',
    title: '需求进度',
    component: () => import('./NeedStatusPage.vue'),
    public: true,
  },
  { path: 'rate', name: 'm-resident-rate', title: '服务评价', component: () => import('./RatePage.vue'), public: true },
  {
    path: 'board/:communityId(\\d+)',
    name: 'm-resident-board',
    title: '社区晒单',
    component: () => import('./BoardPage.vue'),
    public: true,
  },
]
