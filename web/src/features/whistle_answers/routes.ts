import { defineScreens } from '../registry'

// The unit admin's side of 吹哨报到 (answering a summons); the community's side is features/whistles.
export const screens = defineScreens([
  {
    path: 'whistle-answers',
    name: 'whistle-answers',
    title: '吹哨响应',
    roles: ['unit_admin'],
    component: () => import('./WhistleAnswersPage.vue'),
    menu: { order: 25 },
  },
])
