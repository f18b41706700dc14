import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type checking runs once (tsc in `npm test`); isolatedModules in tsconfig makes ts-jest transpile only.
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  moduleNameMapper: {
    '^passport-fractal-id$': '<rootDir>/lib/index.ts',
    '^passport-fractal-id/sandbox$': '<rootDir>/lib/sandbox/index.ts',
  },
  testTimeout: 30_000,
};

export default config;
