// ESLint in the electron-vite template's manner (flat config): typescript-eslint's recommended
// rules for every TypeScript file, eslint-plugin-vue's for the renderer's components, and
// eslint-config-prettier last, so formatting is Prettier's alone (`npm run format`).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import vue from 'eslint-plugin-vue';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import vueParser from 'vue-eslint-parser';

export default tseslint.config(
  { ignores: ['**/node_modules', '**/out', '**/out-*', 'build', 'test-results', '**/*.generated.ts', 'tests/fixtures'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  vue.configs['flat/recommended'],
  {
    files: ['**/*.{ts,mts,vue}'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      // unused names are errors, except those named _ on purpose
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // tests edit arbitrary JSON (fixtures, checkpoint headers) to break it on purpose
    files: ['tests/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.{js,mjs}'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.vue'],
    languageOptions: { parser: vueParser, parserOptions: { parser: tseslint.parser, sourceType: 'module' } },
    rules: {
      'vue/multi-word-component-names': 'off',
      'vue/require-default-prop': 'off',
    },
  },
  prettier,
);
