import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.tmp/', 'examples/vendure/dist/', 'examples/vendure/.pack/', 'examples/vendure/.data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Browser scripts served as is (no bundler): the admin dashboard's and the example CRM's. Browser globals only.
    files: ['src/http/dashboard/**/*.js', 'examples/**/public/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        ['document', 'window', 'location', 'fetch', 'URL', 'URLSearchParams', 'Node', 'Intl', 'setTimeout', 'clearTimeout', 'console'].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unsafe-function-type': 'off',
    },
  },
);
