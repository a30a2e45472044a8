// The points exchange 积分兑换 on the phone. Members: the "兑换" tab (my redeemable balance and what I
// may redeem), an item's detail with 兑换 (a confirm dialog), 我的兑换 with the one-time code shown
// large and its expiry. Providers (a merchant of 道德联盟, a co-building unit's admin): 我的物品
// (list one, change its stock, withdraw it) and 核销兑换码 (confirm a code on collection).
import type { MobileScreen } from '../../screens'

const member: MobileScreen['roles'] = ['member']
const provider: MobileScreen['roles'] = ['provider', 'unit_admin']

export const mobileScreens: MobileScreen[] = [
  { path: 'exchange', name: 'm-exchange', title: '兑换', component: () => import('./ExchangeHome.vue'), roles: member, tab: { icon: 'gift-o', order: 50 } },
  { path: 'exchange/items/:id(\\d+)', name: 'm-exchange-item', title: '兑换物品', component: () => import('./ItemPage.vue'), roles: member, back: true },
  { path: 'exchange/mine', name: 'm-exchange-mine', title: '我的兑换', component: () => import('./MyRedemptions.vue'), roles: member, back: true },
  { path: 'exchange/provider', name: 'm-exchange-provider', title: '我的物品', component: () => import('./ProviderItems.vue'), roles: provider, tab: { icon: 'shop-o', order: 50 } },
  { path: 'exchange/provider/new', name: 'm-exchange-item-new', title: '上架物品', component: () => import('./ItemForm.vue'), roles: provider, back: true },
  { path: 'exchange/confirm', name: 'm-exchange-confirm', title: '核销兑换码', component: () => import('./ConfirmPage.vue'), roles: provider, tab: { icon: 'scan', order: 55 } },
]
