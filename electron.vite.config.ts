import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'electron-vite'

const { version } = JSON.parse(readFileSync(fileURLToPath(new URL('./package.json', import.meta.url)), 'utf8')) as { version: string }
const define = { __APP_VERSION__: JSON.stringify(version) }

export default defineConfig({
  main: {
    define
  },
  preload: {
    define,
    build: {
      // A sandboxed preload cannot be an ES module: emit CommonJS (out/preload/index.cjs).
      rolldownOptions: { output: { format: 'cjs' } }
    }
  },
  renderer: {
    define,
    plugins: [vue()]
  }
})
