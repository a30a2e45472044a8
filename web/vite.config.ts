import { fileURLToPath } from 'node:url'

import { VantResolver } from '@vant/auto-import-resolver'
import vue from '@vitejs/plugin-vue'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import Components from 'unplugin-vue-components/vite'
import { defineConfig } from 'vite'

const here = (path: string): string => fileURLToPath(new URL(`./${path}`, import.meta.url))

// Two pages: the staff console (admin.html, Element Plus) and the mobile pages (m.html, Vant).
// Components are imported on demand, so each route's chunk carries only what it uses.
export default defineConfig({
  base: '/',
  plugins: [
    vue(),
    Components({
      resolvers: [ElementPlusResolver({ importStyle: 'css' }), VantResolver()],
      // No generated components.d.ts: vue-tsc must see the same sources on a fresh clone and after a
      // build (Element Plus tags are checked as untyped components either way).
      dts: false,
    }),
  ],
  resolve: {
    alias: { '@': here('src') },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 900,
    rolldownOptions: {
      input: {
        admin: here('admin.html'),
        m: here('m.html'),
      },
      // A phone pays a round trip (on 3G over half a second) per file, and HTTP/1.1 fetches six at a
      // time: Vant (only on /m) and what both pages share each go in one chunk instead of some twenty,
      // and the mobile pages' own components ride in /m's entry, so the check-in page needs five files
      // after its HTML (bench/mobile_load.py: on Fast 3G it went from 7.2 s to 4.5 s with the router
      // change, and lower again with the page in the first load; docs/benchmarks.md).
      output: {
        codeSplitting: {
          // Only the modules named: Vue itself stays where both pages share it.
          includeDependenciesRecursively: false,
          groups: [
            { name: 'm-vant', test: /node_modules[\\/](vant|@vant)[\\/]/ },
            // What both pages load first, in one file: Vue, its router, the API client, the small
            // shared modules of src/ and the bundler's own helpers.
            {
              name: 'app-shared',
              test: /node_modules[\\/](@vue|vue|vue-router|openapi-fetch)[\\/]|preload-helper|modulepreload-polyfill|export-helper|src[\\/](api|components[\\/](apiForm|datetime)|features[\\/][a-z_]+[\\/]labels)[\\/.]/,
            },
          ],
        },
      },
    },
  },
  server: {
    proxy: {
      '^/(?!admin|m/|m$|assets|src|@|node_modules).*': 'http://127.0.0.1:8700',
    },
  },
})
