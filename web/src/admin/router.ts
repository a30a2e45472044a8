// Console routes: sign-in, then every feature's screens inside the layout, guarded by role.
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'

import { signInLocation } from '@/api/client'
import { loadMe, session } from '@/api/session'
import { homeFor, screens } from '@/features'

const children: RouteRecordRaw[] = screens.map((s) => ({
  path: s.path,
  name: s.name,
  component: s.component,
  meta: { title: s.title, roles: s.roles, activeMenu: s.activeMenu ? `/admin/${s.activeMenu}` : undefined },
}))

children.push(
  { path: 'welcome', name: 'welcome', component: () => import('./WelcomePage.vue'), meta: { title: '欢迎' } },
  { path: ':rest(.*)*', name: 'not-found', component: () => import('./NotFoundPage.vue'), meta: { title: '页面不存在' } },
)

const routes: RouteRecordRaw[] = [
  { path: '/admin/login', name: 'login', component: () => import('./LoginPage.vue'), meta: { title: '登录', public: true } },
  { path: '/admin', component: () => import('@/layout/AdminLayout.vue'), children },
]

export const router = createRouter({ history: createWebHistory('/'), routes })

router.beforeEach(async (to) => {
  if (!session.checked) await loadMe()
  const me = session.me
  if (to.meta.public) {
    // Already signed in: the sign-in page goes home (or to `next`).
    if (me && to.name === 'login') return nextPath(to.query.next) ?? homeFor(me.role)
    return true
  }
  if (!me) return signInLocation(to.fullPath)
  if (to.path === '/admin' || to.path === '/admin/') return homeFor(me.role)
  const roles = to.meta.roles as string[] | undefined
  if (roles && !roles.includes(me.role)) return { name: 'not-found', params: { rest: to.path.split('/').slice(2) } }
  return true
})

router.afterEach((to) => {
  // Titles name the screen, never a person or a phone number.
  document.title = `${String(to.meta.title ?? '')} - 双报到管理控制台`
})

/** A `next` query value when it is a console path (never an outside address). */
export function nextPath(value: unknown): string | null {
  if (typeof value !== 'string') return null
  return value.startsWith('/admin') && !value.startsWith('/admin/login') && !value.startsWith('//') ? value : null
}
