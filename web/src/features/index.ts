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

/** A top-level menu entry: one screen, or a titled group of screens. */
export type MenuEntry =
  | { kind: 'item'; order: number; item: MenuItem }
  | { kind: 'group'; order: number; title: string; items: MenuItem[] }

/** The menu for a role: top-level screens and groups, each sorted by `order`. */
export function menuFor(role: Role): MenuEntry[] {
  const entries: MenuEntry[] = []
  const groups = new Map<string, Extract<MenuEntry, { kind: 'group' }>>()
  for (const s of screens) {
    if (!s.menu || !s.roles.includes(role)) continue
    const item = { path: `/admin/${s.path}`, title: s.title, order: s.menu.order }
    if (!s.menu.group) {
      entries.push({ kind: 'item', order: item.order, item })
      continue
    }
    let group = groups.get(s.menu.group)
    if (!group) {
      group = { kind: 'group', order: item.order, title: s.menu.group, items: [] }
      groups.set(s.menu.group, group)
      entries.push(group)
    }
    group.order = Math.min(group.order, item.order)
    group.items.push(item)
  }
  for (const g of groups.values()) g.items.sort((a, b) => a.order - b.order)
  return entries.sort((a, b) => a.order - b.order)
}

/** The first screen a role lands on after sign-in. */
export function homeFor(role: Role): string {
  const first = menuFor(role)[0]
  if (!first) return '/admin/welcome'
  return first.kind === 'item' ? first.item.path : (first.items[0]?.path ?? '/admin/welcome')
}
