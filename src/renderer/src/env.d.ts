/// <reference types="vite/client" />
/// <reference path="../../preload/index.d.ts" />
