/// <reference types="vite/client" />
// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- a global declaration file (window.nanolab), as in the electron-vite template
/// <reference path="../../preload/index.d.ts" />
