import { menuScreen } from '../registry'

export const screens = [menuScreen('certificates', '报到证', ['unit_admin'], () => import('./CertificatesPage.vue'), { order: 20 })]
