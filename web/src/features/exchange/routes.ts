import type { Role } from '@/api/session'

import { menuScreen } from '../registry'

// 积分兑换 (道德银行) for those who oversee it: redemptions and stock of the providers inside the
// caller's scope, and the merchants of 道德联盟 (an organization department or a community admits
// one and opens its keeper's account).
const overseers: Role[] = ['org_department', 'subdistrict', 'community_staff']
// Its providers: a merchant of 道德联盟 (role provider) and a co-building unit (its unit admins)
// list their items, keep stock and dates, and confirm the members' codes on collection.
const providers: Role[] = ['provider', 'unit_admin']

export const screens = [
  menuScreen('exchange', '积分兑换', overseers, () => import('./ExchangeView.vue'), { order: 60 }),
  menuScreen('exchange/items', '兑换物品', providers, () => import('./ProviderItemsView.vue'), { group: '积分兑换', order: 70 }),
  menuScreen('exchange/collect', '核销兑换码', providers, () => import('./ProviderCollectView.vue'), { group: '积分兑换', order: 71 }),
]
