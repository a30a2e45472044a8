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

// A provider's own items (a merchant of 道德联盟, or a co-building unit) and its codes to confirm.
export type ItemCreate = components['schemas']['ItemCreate']
export type Validity = components['schemas']['ValidityUpdate']
export type Resource = components['schemas']['ResourceView']

export async function createItem(body: ItemCreate): Promise<Item> {
  return unwrap(await api.POST('/exchange/items', { body }))
}

export async function setStock(itemId: number, stock: number): Promise<Item> {
  return unwrap(await api.POST('/exchange/items/{item_id}/stock', { params: { path: { item_id: itemId } }, body: { stock } }))
}

export async function setValidity(itemId: number, body: Validity): Promise<Item> {
  return unwrap(await api.POST('/exchange/items/{item_id}/validity', { params: { path: { item_id: itemId } }, body }))
}

export async function withdrawItem(itemId: number): Promise<Item> {
  return unwrap(await api.POST('/exchange/items/{item_id}/withdraw', { params: { path: { item_id: itemId } } }))
}

export async function confirmCode(code: string): Promise<Redemption> {
  return unwrap(await api.POST('/exchange/confirm', { body: { code } }))
}

export async function resources(): Promise<Resource[]> {
  return unwrap(await api.GET('/exchange/resources', { params: { query: { limit: 200, offset: 0 } } })).items
}
