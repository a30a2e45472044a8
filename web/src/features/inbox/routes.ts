import { menuScreen } from '../registry'

export const screens = [
  menuScreen(
    'inbox',
    '消息',
    ['community_staff', 'unit_admin', 'subdistrict', 'org_department'],
    () => import('./InboxView.vue'),
    { order: 90 },
  ),
]
