/** package.json's version, injected by electron.vite.config.ts (`define`). */
declare const __APP_VERSION__: string;
/** True only in a build made with NANOLAB_TEST_HOOKS=1: the e2e tests' hooks (renderer/src/gpu/test-hooks.ts). */
declare const __NANOLAB_TEST_HOOKS__: boolean;
