import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Installs the packed tarball into throwaway apps (about a minute): `npm run test:package`.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/package-install.test.ts'],
  // Finds or starts Redis and hands it to every test file as REDIS_URL (test/setup/redis-global.ts).
  globalSetup: '<rootDir>/test/setup/redis-global.ts',
  globalTeardown: '<rootDir>/test/setup/redis-global-teardown.ts',
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
