import type { Role } from '@/api/session'

import { innerScreen, menuScreen } from '../registry'

// 吹哨报到 for the community (blow, follow, arrivals, close) and the subdistrict (follow). A whistle's
// drawer has its own address (the whistle number only; the API decides whether it may be seen).
// Unit admins answer whistles on their own screen (吹哨响应).
const whistles = () => import('./WhistlesView.vue')
const readers: Role[] = ['community_staff', 'subdistrict']

export const screens = [
  menuScreen('whistles', '吹哨报到', readers, whistles, { order: 22 }),
  innerScreen('whistles/:whistleId(\\d+)', 'whistle', '吹哨报到', readers, whistles, 'whistles'),
]
