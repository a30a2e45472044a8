import { menuScreen } from '../registry'

// The unit admin's side of 吹哨报到 (answering a summons); the community's side is features/whistles.
export const screens = [menuScreen('whistle-answers', '吹哨响应', ['unit_admin'], () => import('./WhistleAnswersPage.vue'), { order: 25 })]
