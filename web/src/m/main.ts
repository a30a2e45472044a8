// The mobile pages (/m) for members, residents and providers: Vant 4, components imported on demand.
import 'vant/es/toast/style'
import 'vant/es/dialog/style'
import 'vant/es/notify/style'

import { createApp } from 'vue'

import MobileApp from './MobileApp.vue'
import { router } from './router'

createApp(MobileApp).use(router).mount('#app')
