import { menuScreen } from '../registry'

export const screens = [menuScreen('accounts', '账号与令牌', ['org_department'], () => import('./AccountsPage.vue'), { order: 60 })]
