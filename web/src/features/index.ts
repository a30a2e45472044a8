// Every feature's screens, gathered from features/*/routes.ts at build time.
import type { Role } from '@/api/session'

import type { Screen } from './registry'

const modules = import.meta.glob<{ screens: Screen[] }>('./*/routes.ts', { eager: true })

export const screens: Screen[] = Object.values(modules).flatMap((m) => m.screens)

export interface MenuItem {
  path: string
  title: string
  order: number
}

export interface MenuGroup {
  title: string | null
  order: number
  items: MenuItem[]
}

/** The menu for a role: top-level entries and groups, each sorted by `order`. */
export function menuFor(role: Role): MenuGroup[] {
  const groups = new Map<string | null, MenuGroup>()
  for (const s of screens) {
    if (!s.menu || !s.roles.includes(role)) continue
    const key = s.menu.group ?? null
    const group = groups.get(key) ?? { title: key, order: s.menu.order, items: [] }
    group.order = Math.min(group.order, s.menu.order)
    group.items.push({ path: `/admin/${s.path}`, title: s.title, order: s.menu.order })
    groups.set(key, group)
  }
  const list = [...groups.values()]
  for (const g of list) g.items.sort((a, b) => a.order - b.order)
  return list.sort((a, b) => a.order - b.order)
}

/** The first screen a role lands on after sign-in. */
export function homeFor(role: Role): string {
  const first = menuFor(role)[0]?.items[0]
  return first ? first.path : '/admin/welcome'
}
