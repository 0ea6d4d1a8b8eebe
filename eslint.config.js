// Lint: ESLint's and typescript-eslint's strict rules; formatting is prettier's (.prettierrc.json).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'src/generated/', 'vendor/', '.bench/', 'demo-output/'] },
  js.configs.recommended,
  tseslint.configs.strict,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests, tools and the simulator may assert what they just checked; the connector's code may not.
    files: ['test/**', 'bench/**', 'acceptance/**', 'scripts/**', 'simulator/**'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
