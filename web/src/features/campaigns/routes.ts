import type { Role } from '@/api/session'

import { innerScreen, menuScreen } from '../registry'

const readers: Role[] = ['org_department', 'subdistrict']

export const screens = [
  menuScreen('campaigns', '活动管理', readers, () => import('./CampaignListPage.vue'), { order: 20 }),
  innerScreen('campaigns/new', 'campaign-new', '新建活动', ['org_department'], () => import('./CampaignFormPage.vue'), 'campaigns'),
  innerScreen('campaigns/:id(\\d+)', 'campaign', '活动详情与进度', readers, () => import('./CampaignDetailPage.vue'), 'campaigns'),
]
