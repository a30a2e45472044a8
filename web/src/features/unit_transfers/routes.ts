import { menuScreen } from '../registry'

export const screens = [menuScreen('unit-transfers', '转单位', ['unit_admin'], () => import('./UnitTransfersPage.vue'), { order: 30 })]
