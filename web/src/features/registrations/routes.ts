import { defineScreens } from '../registry'

export const screens = defineScreens([
  {
    path: 'registrations',
    name: 'registrations',
    title: '报到审核',
    roles: ['community_staff'],
    component: () => import('./RegistrationQueue.vue'),
    menu: { order: 10, group: '工作台' },
  },
])
