/**
 * One configuration for every part: `createFractal({...})` builds the strategy, token vault, KYC
 * decisions, back-office client and webhook middleware with their own constructors. The only door
 * into `lib/fractal/`.
 */
export { createFractal, type Fractal } from './create';
export type { CreateFractalOptions, FractalSignIn, FractalRedisClient } from './options';
