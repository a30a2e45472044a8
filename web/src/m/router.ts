// Mobile routes (/m): every area's screens, gathered from m/pages/*/routes.ts; sign-in for all but
// the residents' public pages. Codes and tokens travel in the URL's hash (#code=...), never its path
// or query, so they stay out of server logs.
import { createRouter, createWebHistory, type RouteLocationNormalized, type RouteRecordRaw } from 'vue-router'

import { loadMe, session } from '@/api/session'

import type { MobileScreen } from './screens'

const modules = import.meta.glob<{ mobileScreens: MobileScreen[] }>('./pages/*/routes.ts', { eager: true })

export const mobileScreens: MobileScreen[] = Object.values(modules).flatMap((m) => m.mobileScreens)

/** The bottom bar's tabs for a role, in order. */
export function tabsFor(role: string | undefined): MobileScreen[] {
  return mobileScreens
    .filter((s) => s.tab && (!s.roles || (role !== undefined && s.roles.includes(role as never))))
    .sort((a, b) => (a.tab?.order ?? 0) - (b.tab?.order ?? 0))
}

const routes: RouteRecordRaw[] = mobileScreens.map((s) => ({
  path: `/m/${s.path}`,
  name: s.name,
  component: s.component,
  meta: { title: s.title, public: s.public === true, roles: s.roles, back: s.back === true, onSite: s.onSite === true },
}))

routes.push(
  { path: '/m/login', name: 'm-login', component: () => import('./LoginPage.vue'), meta: { title: '登录', public: true } },
  { path: '/m', name: 'm-home', redirect: () => homePath() },
  { path: '/m/:rest(.*)*', name: 'm-not-found', component: () => import('./NotFoundPage.vue'), meta: { title: '页面不存在', public: true } },
)

export const router = createRouter({ history: createWebHistory('/'), routes })

/** The first tab of the signed-in person, or sign-in. */
export function homePath(): string {
  const first = tabsFor(session.me?.role)[0]
  return first ? `/m/${first.path}` : '/m/login'
}

/** The mobile sign-in page, coming back to `fullPath` (path and hash) afterwards. */
export function signInPath(fullPath: string): string {
  return `/m/login#next=${encodeURIComponent(fullPath)}`
}

/** The `next` carried in the sign-in page's hash: everything after "next=". The router hands the
 * hash over decoded, so a way back that has its own hash and several fields (a check-in page's
 * `#task=1&token=...`) is taken whole, not split at its '&'; a still-encoded one is decoded. */
export function nextFromHash(hash: string): string | null {
  const match = /^#?next=(.*)$/s.exec(hash)
  if (!match) return null
  const value = match[1]
  if (!value.startsWith('%2F')) return value
  try {
    return decodeURIComponent(value)
  } catch {
    return null
  }
}

/** A `next` value when it is a mobile path (never an outside address). */
export function nextMobilePath(value: unknown): string | null {
  if (typeof value !== 'string') return null
  return value.startsWith('/m/') && !value.startsWith('/m/login') && !value.startsWith('//') ? value : null
}

/** Start fetching a screen's code (a lazy route component) without waiting for it. */
function prefetch(to: RouteLocationNormalized): void {
  for (const record of to.matched) {
    const component = record.components?.default
    if (typeof component === 'function') void (component as () => Promise<unknown>)()
  }
}

router.beforeEach(async (to) => {
  if (to.meta.public && to.name !== 'm-login') return true
  // A poster's page shows at once (a round trip less on a phone network); the session is asked for
  // meanwhile, and the page's own calls send a signed-out phone to sign-in and back.
  if (to.meta.onSite) {
    if (!session.checked) void loadMe()
    return true
  }
  // The screen's code loads while the session is asked for, not after (a round trip less on a phone).
  if (!session.checked) prefetch(to)
  if (!session.checked) await loadMe()
  const me = session.me
  if (to.name === 'm-login') return me ? (nextMobilePath(nextFromHash(to.hash)) ?? homePath()) : true
  // Where to come back to rides in the sign-in page's hash, like the codes themselves: a check-in
  // token in it never reaches a server log.
  if (!me) return signInPath(to.fullPath)

  const roles = to.meta.roles as string[] | undefined
  if (roles && !roles.includes(me.role)) return { name: 'm-not-found', params: { rest: to.path.split('/').slice(2) } }
  return true
})

router.afterEach((to) => {
  document.title = `${String(to.meta.title ?? '')} - 双报到`
})
