// The staff console (/admin): Element Plus (Chinese locale, components imported on demand), lazy routes.
import 'element-plus/theme-chalk/el-message.css'
import 'element-plus/theme-chalk/el-message-box.css'
import 'element-plus/theme-chalk/el-loading.css'
import './base.css'

import { ElLoading } from 'element-plus'
import { createApp } from 'vue'

import App from './App.vue'
import { router } from './router'

createApp(App).use(router).use(ElLoading).mount('#app')
