// The kinds of scope an account or a token is limited to, in the words the console shows.
import type { components } from '@/api/schema'

export type ScopeKind = components['schemas']['ScopeKind']

export const SCOPE_NAMES: Record<ScopeKind, string> = {
  city: '全市', district: '区', subdistrict: '街道', community: '社区', unit: '单位', member: '党员', provider: '兑换商户',
}
