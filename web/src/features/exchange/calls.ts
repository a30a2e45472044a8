// The console's exchange calls (typed by the generated schema), one page at a time for PagedTable.
import { api } from '@/api/client'
import { unwrap } from '@/api/errors'
import type { components } from '@/api/schema'

export type Redemption = components['schemas']['RedemptionView']
export type Item = components['schemas']['ItemView']
export type Provider = components['schemas']['ProviderView']
export type Admit = components['schemas']['ProviderAdmit']
export type State = Redemption['state']

interface Page {
  limit: number
  offset: number
}

export const STATE_WORD: Record<State, string> = { issued: '待领取', collected: '已领取', expired: '已过期(积分已退回)' }
export const STATE_TONE: Record<State, 'primary' | 'success' | 'info'> = { issued: 'primary', collected: 'success', expired: 'info' }

export async function redemptionPage(page: Page, state: State | ''): Promise<{ items: Redemption[]; total: number }> {
  return unwrap(await api.GET('/exchange/redemptions', { params: { query: { ...page, state: state || undefined } } }))
}

export async function itemPage(page: Page): Promise<{ items: Item[]; total: number }> {
  return unwrap(await api.GET('/exchange/items', { params: { query: page } }))
}

export async function providerPage(page: Page): Promise<{ items: Provider[]; total: number }> {
  return unwrap(await api.GET('/exchange/providers', { params: { query: page } }))
}

export async function admit(body: Admit): Promise<components['schemas']['ProviderAdmitted']> {
  return unwrap(await api.POST('/exchange/providers', { body }))
}
