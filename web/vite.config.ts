import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

import { VantResolver } from '@vant/auto-import-resolver'
import vue from '@vitejs/plugin-vue'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import Components from 'unplugin-vue-components/vite'
import { build, defineConfig, type Plugin, type UserConfig } from 'vite'

const here = (path: string): string => fileURLToPath(new URL(`./${path}`, import.meta.url))

// Vant's icon style carries its icon font inline (a 34 KB base64 woff2 in vant/es/icon/index.css),
// so every page paid for the font before its first paint, icons or not. The font goes in a file of
// its own instead (built as a hashed asset, fetched only once an icon is drawn), and nothing is
// fetched from Vant's CDN (the fallback its CSS names).
const VANT_ICON_CSS = /[\\/]vant[\\/]es[\\/]icon[\\/]index\.css$/
const VANT_ICON_SRC = /src:\s*url\(data:font\/woff2;charset=utf-8;base64,([A-Za-z0-9+/=]+)\)\s*format\("woff2"\)[^;}]*/

function vantIconFontFile(): Plugin {
  return {
    name: 'sbd-vant-icon-font-file',
    enforce: 'pre',
    transform(code, id) {
      if (!VANT_ICON_CSS.test(id)) return null
      const match = VANT_ICON_SRC.exec(code)
      if (!match) this.error('vant/es/icon/index.css no longer carries its font as a base64 woff2: update vite.config.ts')
      // Beside the CSS's package, so the relative url() below resolves in dev and build alike.
      const font = here('node_modules/.sbd-vant-icon/vant-icon.woff2')
      mkdirSync(dirname(font), { recursive: true })
      writeFileSync(font, Buffer.from(match[1], 'base64'))
      return { code: code.replace(match[0], 'src:url("../../../.sbd-vant-icon/vant-icon.woff2") format("woff2")'), map: null }
    },
  }
}

// The plugins of both builds: Vue, and components imported on demand, so each chunk carries only
// what it uses.
function pagePlugins(): Plugin[] {
  return [
    vue(),
    vantIconFontFile(),
    Components({
      resolvers: [ElementPlusResolver({ importStyle: 'css' }), VantResolver()],
      // No generated components.d.ts: vue-tsc must see the same sources on a fresh clone and after a
      // build (Element Plus tags are checked as untyped components either way).
      dts: false,
    }),
  ]
}

// The mobile pages (m.html, Vant) as one script and one style sheet: nothing imports them and they
// import nothing, so the server may hand them to a phone inside the page itself (api/web.py does for
// the pages a poster's QR code opens: one round trip less, on 3G over half a second) or as files
// (every other /m page, cached), and a page never holds two copies of Vue. A screen's code is then
// there when the member opens it, without a round trip (bench/mobile_load.py, docs/benchmarks.md).
function mobileConfig(logLevel: UserConfig['logLevel']): UserConfig {
  return {
    configFile: false,
    root: here('.'),
    base: '/',
    logLevel,
    plugins: pagePlugins(),
    resolve: { alias: { '@': here('src') } },
    build: {
      outDir: 'dist',
      emptyOutDir: false,
      chunkSizeWarningLimit: 900,
      rolldownOptions: {
        input: { m: here('m.html') },
        output: { codeSplitting: false },
      },
    },
  }
}

/** After the console's build (which empties dist/), the mobile pages' build beside it. */
function thenMobileBuild(): Plugin {
  let logLevel: UserConfig['logLevel']
  return {
    name: 'sbd-then-mobile-build',
    apply: 'build',
    configResolved(config) {
      logLevel = config.logLevel
    },
    async closeBundle() {
      await build(mobileConfig(logLevel))
    },
  }
}

// Two pages: the staff console (admin.html, Element Plus), built here, and the mobile pages (m.html,
// Vant), built after it by mobileConfig; the dev server serves both from source.
export default defineConfig({
  base: '/',
  plugins: [...pagePlugins(), thenMobileBuild()],
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
      },
      output: {
        codeSplitting: {
          // Only the modules named: their dependencies stay where the bundler puts them.
          includeDependenciesRecursively: false,
          groups: [
            // What the console loads first, in one file: Vue, its router, the API client, the small
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
