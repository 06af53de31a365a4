import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'reports/**', '.stryker-tmp*/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['warn', 'error'] }]
    }
  },
  {
    files: ['example/**', 'bench/**'],
    rules: { 'no-console': 'off' }
  },
  {
    // Scripts of the example pages run in the browser.
    files: ['example/public/**/*.js'],
    languageOptions: { globals: { document: 'readonly', location: 'readonly', URLSearchParams: 'readonly', window: 'readonly' } }
  }
)
