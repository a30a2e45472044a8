import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'campaigns',
    name: 'campaigns',
    title: '活动管理',
    roles: ['org_department', 'subdistrict'],
    component: () => import('./CampaignListPage.vue'),
    menu: { order: 20 },
  },
  {
    path: 'campaigns/new',
    name: 'campaign-new',
    title: '新建活动',
    roles: ['org_department'],
    component: () => import('./CampaignFormPage.vue'),
    activeMenu: 'campaigns',
  },
  {
    path: 'campaigns/:id(\\d+)',
    name: 'campaign',
    title: '活动详情与进度',
    roles: ['org_department', 'subdistrict'],
    component: () => import('./CampaignDetailPage.vue'),
    activeMenu: 'campaigns',
  },
])
