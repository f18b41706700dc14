import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type checking is done once by `tsc --noEmit` in `npm test`; per-file transpiling keeps jest fast.
    '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }],
  },
  moduleNameMapper: {
    '^passport-fractal-id$': '<rootDir>/lib/index.ts',
    '^passport-fractal-id/sandbox$': '<rootDir>/lib/sandbox/index.ts',
  },
  testTimeout: 30_000,
};

export default config;
