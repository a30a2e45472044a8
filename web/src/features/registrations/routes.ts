import { menuScreen } from '../registry'

export const screens = [
  menuScreen('registrations', '报到审核', ['community_staff'], () => import('./RegistrationQueue.vue'), { order: 10, group: '工作台' }),
]
