// Who is signed in (GET /auth/me), shared by the router guard, the menu and the header.
import { reactive } from 'vue'

import { api } from './client'

export type Role = 'org_department' | 'subdistrict' | 'community_staff' | 'unit_admin' | 'member'

export interface Me {
  role: Role
  scope_kind: string
  scope_id: number | null
  label: string
  scope_name?: string | null
  account_id?: number | null
  expires_at?: string | null
}

export const session = reactive<{ me: Me | null; checked: boolean }>({ me: null, checked: false })

export async function loadMe(): Promise<Me | null> {
  try {
    const response = await fetchMe()
    session.me = response
  } catch {
    session.me = null
  }
  session.checked = true
  return session.me
}

async function fetchMe(): Promise<Me | null> {
  // `/auth/me` is typed once the sign-in routes are in the generated schema.
  const { data, response } = await api.GET('/auth/me' as never)
  return response.ok && data ? (data as Me) : null
}

export async function signOut(): Promise<void> {
  await api.POST('/auth/logout' as never)
  session.me = null
}

export const ROLE_NAMES: Record<Role, string> = {
  org_department: '组织部',
  subdistrict: '街道',
  community_staff: '社区',
  unit_admin: '单位管理员',
  member: '党员',
}
