/** package.json's version, injected by electron.vite.config.ts (`define`). */
declare const __APP_VERSION__: string
