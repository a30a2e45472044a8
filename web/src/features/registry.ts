// How a feature plugs into the console: each features/<name>/routes.ts exports `screens`, a list of
// console screens (a lazy route plus, optionally, its menu entry per role). features/index.ts
// collects every routes.ts by glob, so a new screen is a new file, not an edit of a shared list.
import type { Component } from 'vue'

import type { Role } from '@/api/session'

export interface MenuEntry {
  /** Menu group heading (e.g. '工作台'); entries without a group sit at the top level. */
  group?: string
  /** Lower sorts first. */
  order: number
}

export interface Screen {
  /** Path under /admin, without the leading slash (e.g. 'campaigns' or 'campaigns/:id'). */
  path: string
  name: string
  title: string
  /** Roles that may open the screen (and see it in the menu when `menu` is set). */
  roles: Role[]
  component: () => Promise<Component | { default: Component }>
  menu?: MenuEntry
  /** Where the menu highlights when this (unlisted) screen is open, e.g. 'campaigns'. */
  activeMenu?: string
}

export function defineScreens(screens: Screen[]): Screen[] {
  return screens
}

type Load = Screen['component']

/** A screen listed in the menu; its route name is its path with '-' for '/'. */
export function menuScreen(path: string, title: string, roles: Role[], component: Load, menu: MenuEntry): Screen {
  return { path, name: path.replace(/\//g, '-'), title, roles, component, menu }
}

/** A screen opened from another (not in the menu); the menu highlights `activeMenu` meanwhile. */
export function innerScreen(
  path: string,
  name: string,
  title: string,
  roles: Role[],
  component: Load,
  activeMenu: string,
): Screen {
  return { path, name, title, roles, component, activeMenu }
}
