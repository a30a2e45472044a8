import { defineScreens } from '../registry'

// 吹哨报到 for the community (blow, follow, arrivals, close) and the subdistrict (follow). A whistle's
// drawer has its own address (the whistle number only; the API decides whether it may be seen).
// Unit admins answer whistles on their own screen (吹哨响应).
const whistles = () => import('./WhistlesView.vue')

export const screens = defineScreens([
  {
    path: 'whistles',
    name: 'whistles',
    title: '吹哨报到',
    roles: ['community_staff', 'subdistrict'],
    component: whistles,
    menu: { order: 22 },
  },
  {
    path: 'whistles/:whistleId(\\d+)',
    name: 'whistle',
    title: '吹哨报到',
    roles: ['community_staff', 'subdistrict'],
    component: whistles,
    activeMenu: 'whistles',
  },
])
