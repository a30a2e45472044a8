// The member's own pages: the "我的" tab (registration status, points, the menu) and what it opens:
// 我要报到 (register, why returned, re-register), 服务记录 (log one, my services and hours), 我的积分
// (both ledgers, each line's reason), 报到证 (and its A5 sheet to print or save), 消息, 转单位.
import type { MobileScreen } from '../../screens'

const member: MobileScreen['roles'] = ['member']

export const mobileScreens: MobileScreen[] = [
  { path: 'me', name: 'm-me', title: '我的', component: () => import('./MeHome.vue'), roles: member, tab: { icon: 'user-o', order: 90 } },
  { path: 'me/registration', name: 'm-me-registration', title: '我要报到', component: () => import('./RegistrationPage.vue'), roles: member, back: true },
  { path: 'me/services', name: 'm-me-services', title: '服务记录', component: () => import('./ServicesPage.vue'), roles: member, back: true },
  { path: 'me/services/new', name: 'm-me-service-new', title: '登记服务', component: () => import('./ServiceLogPage.vue'), roles: member, back: true },
  { path: 'me/points', name: 'm-me-points', title: '我的积分', component: () => import('./PointsPage.vue'), roles: member, back: true },
  { path: 'me/certificate', name: 'm-me-certificate', title: '报到证', component: () => import('./CertificatePage.vue'), roles: member, back: true },
  { path: 'me/certificate/print', name: 'm-me-certificate-print', title: '打印报到证', component: () => import('./CertificatePrint.vue'), roles: member, back: true },
  { path: 'me/inbox', name: 'm-me-inbox', title: '消息', component: () => import('./InboxPage.vue'), roles: member, back: true },
  { path: 'me/transfer', name: 'm-me-transfer', title: '转单位', component: () => import('./TransferPage.vue'), roles: member, back: true },
]
