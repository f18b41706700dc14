import type { Config } from 'jest';
import base from './jest.config';

/** `npm run test:package`: the packed tarball in throwaway apps (test/package-install.test.ts). */
const config: Config = {
  ...base,
  testMatch: ['**/package-install.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 120_000,
};

export default config;
