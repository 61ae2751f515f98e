// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import pluginVue from 'eslint-plugin-vue';

const coreForbiddenGlobals = [
  'setTimeout',
  'setInterval',
  'clearTimeout',
  'clearInterval',
  'Date',
  'crypto',
  'WebSocket',
  'console',
  'window',
  'document',
  'process',
  'performance',
  'fetch',
  'Buffer',
].map((name) => ({
  name,
  message: 'The sans-IO core takes time, randomness, logging and I/O as inputs (STYLE.md): inject it.',
}));

/** @param {string[]} groups @param {string} message */
const forbid = (groups, message) => ({ patterns: groups.map((group) => ({ group: [group], message })) });

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'data/**', 'test-results/**', '.tmp/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      'no-control-regex': 'off',
    },
  },
  // Single-file components: Vue's recommended rules with the TypeScript parser; vue-tsc does their type checks.
  ...pluginVue.configs['flat/recommended'],
  { files: ['**/*.vue'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['**/*.vue'],
    languageOptions: {
      parserOptions: {
        parser: tseslint.parser,
        extraFileExtensions: ['.vue'],
        sourceType: 'module',
        program: null,
        project: false,
        projectService: false,
      },
    },
    rules: {
      'no-undef': 'off',
      'vue/multi-word-component-names': 'error',
      'vue/no-v-html': 'error',
      // Layout is Prettier's.
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/multiline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/html-indent': 'off',
      'vue/html-closing-bracket-newline': 'off',
    },
  },
  // The protocol core: no I/O, no clock, no randomness, no app code.
  {
    files: ['web/src/sip/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...coreForbiddenGlobals],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Inject randomness.' },
      ],
      'no-restricted-imports': [
        'error',
        forbid(
          [
            'node:*',
            'ws',
            'vue',
            'pinia',
            '**/drivers/**',
            '**/stores/**',
            '**/components/**',
            '**/gateway/**',
            '**/test/**',
          ],
          'The core imports nothing outside web/src/sip/.',
        ),
      ],
    },
  },
  // Inside the core, lower layers never import higher ones.
  {
    files: ['web/src/sip/message/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        forbid(
          [
            '../transaction/**',
            '../dialog/**',
            '../auth/**',
            '../ua/**',
            '../sdp/**',
            '../msrp/**',
            '../im/**',
            '../index*',
          ],
          'message/ depends on nothing but errors/util.',
        ),
      ],
    },
  },
  {
    files: ['web/src/sip/auth/**/*.ts', 'web/src/sip/transaction/**/*.ts', 'web/src/sip/dialog/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        forbid(
          ['../ua/**', '../index*', '../msrp/**', '../sdp/**'],
          'auth, transaction and dialog sit below the user-agent core.',
        ),
      ],
    },
  },
  // Everything outside the core reaches it only through its public index.
  {
    files: [
      'web/src/drivers/**/*.ts',
      'web/src/stores/**/*.ts',
      'web/src/components/**/*.ts',
      'web/src/components/**/*.vue',
      'web/src/composables/**/*.ts',
      'web/src/widget/**/*.ts',
      'web/src/main.ts',
      'web/src/browser-runtime.ts',
      'gateway/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        forbid(
          [
            '**/sip/message/**',
            '**/sip/transaction/**',
            '**/sip/dialog/**',
            '**/sip/auth/**',
            '**/sip/ua/**',
            '**/sip/msrp/**',
            '**/sip/im/**',
            '**/sip/sdp/**',
          ],
          'Import the SIP core from web/src/sip/index.ts only.',
        ),
      ],
    },
  },
  // The app's arrows (STYLE.md): components → stores/composables → drivers → the core's index.
  {
    files: ['web/src/drivers/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        forbid(
          ['**/stores/**', '**/components/**', '**/composables/**', 'vue', 'pinia'],
          'drivers sit below the stores and know no Vue.',
        ),
      ],
    },
  },
  {
    files: ['web/src/stores/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        forbid(
          ['**/components/**', '**/sip/*/**'],
          'stores use drivers and the core index, never components.',
        ),
      ],
    },
  },
  {
    files: ['gateway/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        forbid(
          ['**/web/src/stores/**', '**/web/src/components/**', '**/web/src/drivers/**', '**/test/**'],
          'The gateway uses the core, node:* and ws; never the app or the tests.',
        ),
      ],
    },
  },
  // Composition roots, scripts, tests and benchmarks may print.
  {
    files: ['gateway/main.ts', 'web/src/main.ts', 'web/src/browser-runtime.ts', 'scripts/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
