// The mobile pages (/m) for members, residents and providers: Vant 4, components imported on demand.
import { createApp } from 'vue'

import MobileApp from './MobileApp.vue'
import { router } from './router'

createApp(MobileApp).use(router).mount('#app')
