import type { Role } from '@/api/session'

import { menuScreen } from '../registry'

// 积分兑换 (道德银行) for those who oversee it: redemptions and stock of the providers inside the
// caller's scope, and the merchants of 道德联盟 (an organization department or a community admits
// one and opens its keeper's account).
const overseers: Role[] = ['org_department', 'subdistrict', 'community_staff']

export const screens = [
  menuScreen('exchange', '积分兑换', overseers, () => import('./ExchangeView.vue'), { order: 60 }),
]
