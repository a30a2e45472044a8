// Who is signed in (GET /auth/me), shared by the router guard, the menu and the header.
import { reactive } from 'vue'

import { api } from './client'
import type { components } from './schema'

export type Me = components['schemas']['Me']
export type Role = Me['role']

export const session = reactive<{ me: Me | null; checked: boolean }>({ me: null, checked: false })

export async function loadMe(): Promise<Me | null> {
  try {
    const { data, response } = await api.GET('/auth/me')
    session.me = response.ok && data ? data : null
  } catch {
    session.me = null
  }
  session.checked = true
  return session.me
}

export async function signOut(): Promise<void> {
  try {
    await api.POST('/auth/logout')
  } finally {
    session.me = null
  }
}

export const ROLE_NAMES: Record<Role, string> = {
  org_department: '组织部',
  subdistrict: '街道',
  community_staff: '社区',
  unit_admin: '单位管理员',
  provider: '兑换商户',
  member: '党员',
}
