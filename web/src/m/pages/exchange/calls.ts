// The exchange's calls (typed by the generated schema). Each returns the data or throws ApiFailure
// (its body carries the API's Chinese message), as useApiForm expects.
import { api } from '@/api/client'
import { unwrap } from '@/api/errors'
import type { components } from '@/api/schema'

export type Item = components['schemas']['ItemView']
export type Redemption = components['schemas']['RedemptionView']
export type Redeemed = components['schemas']['Redeemed']
export type ItemCreate = components['schemas']['ItemCreate']

const onItem = (itemId: number) => ({ params: { path: { item_id: itemId } } })

export const STATE_WORD: Record<Redemption['state'], string> = { issued: '待领取', collected: '已领取', expired: '已过期' }
export const STATE_TONE: Record<Redemption['state'], 'primary' | 'success' | 'default'> = {
  issued: 'primary',
  collected: 'success',
  expired: 'default',
}

export async function balance(): Promise<number> {
  return unwrap(await api.GET('/exchange/balance')).balance
}

export async function items(): Promise<Item[]> {
  return unwrap(await api.GET('/exchange/items', { params: { query: { limit: 100 } } })).items
}

export async function item(itemId: number): Promise<Item> {
  return unwrap(await api.GET('/exchange/items/{item_id}', onItem(itemId)))
}

/** A new request id for one redemption: a retry of the same call sends the same one. */
export function newRequestId(): string {
  return crypto.randomUUID().replace(/-/g, '')
}

export async function redeem(itemId: number, requestId: string): Promise<Redeemed> {
  return unwrap(await api.POST('/exchange/items/{item_id}/redeem', { ...onItem(itemId), body: { request_id: requestId } }))
}

export async function redemptions(): Promise<Redemption[]> {
  return unwrap(await api.GET('/exchange/redemptions', { params: { query: { limit: 100 } } })).items
}

export async function showCode(redemptionId: number): Promise<string> {
  const path = { params: { path: { redemption_id: redemptionId } } }
  return unwrap(await api.POST('/exchange/redemptions/{redemption_id}/code', path)).code
}

export async function createItem(body: ItemCreate): Promise<Item> {
  return unwrap(await api.POST('/exchange/items', { body }))
}

export async function setStock(itemId: number, stock: number): Promise<Item> {
  return unwrap(await api.POST('/exchange/items/{item_id}/stock', { ...onItem(itemId), body: { stock } }))
}

export async function withdraw(itemId: number): Promise<Item> {
  return unwrap(await api.POST('/exchange/items/{item_id}/withdraw', onItem(itemId)))
}

export async function confirmCode(code: string): Promise<Redemption> {
  return unwrap(await api.POST('/exchange/confirm', { body: { code } }))
}
