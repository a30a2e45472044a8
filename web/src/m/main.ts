// The mobile pages (/m) for members and residents: Vant 4. Part 2 of the front end fills them.
import { createApp } from 'vue'

import MobileApp from './MobileApp.vue'

createApp(MobileApp).mount('#app')
