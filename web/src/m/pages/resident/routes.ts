// The residents' pages (no account): a grid's 点单码 opens the need form, the receipt's link follows
// the need's state, a task's 评价码 opens the rating page, and a community's public board 晒单.
// Codes ride in the URL's hash (#code=..., #follow=...), never its path or query.
import type { MobileScreen } from '../../screens'

/** One public resident screen, named m-resident-<name>. */
function screen(path: string, name: string, title: string, component: MobileScreen['component']): MobileScreen {
  return { path, name: `m-resident-${name}`, title, component, public: true }
}

export const mobileScreens: MobileScreen[] = [
  screen('need', 'need', '居民点单', () => import('./NeedPage.vue')),
  screen('need/status', 'need-status', '需求进度', () => import('./NeedStatusPage.vue')),
  screen('rate', 'rate', '服务评价', () => import('./RatePage.vue')),
  screen('board/:communityId(\\d+)', 'board', '社区晒单', () => import('./BoardPage.vue')),
]
