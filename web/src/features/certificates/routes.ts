import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'certificates',
    name: 'certificates',
    title: '报到证',
    roles: ['unit_admin'],
    component: () => import('./CertificatesPage.vue'),
    menu: { order: 20 },
  },
])
