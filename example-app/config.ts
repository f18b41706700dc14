import { randomBytes } from 'node:crypto';
import { isFractalError, parseKycRequirement, type KycRequirement } from 'passport-fractal-id';

export type FractalMode = 'sandbox' | 'staging' | 'production';

export interface AppConfig {
  port: number;
  baseURL: string;
  sessionSecret: string;
  /** True when SESSION_SECRET was not set and a random one is used (sessions end on restart). */
  generatedSessionSecret: boolean;
  redisURL?: string;
  mode: FractalMode;
  clientID?: string;
  clientSecret?: string;
  domains: { frontend?: string; auth?: string; resource?: string };
  scopes: string[];
  requiredScopes: string[];
  webhookSecret?: string;
  tokenEncryptionKey?: string;
  /** FRACTAL_KYC_LEVEL as given (default `basic`), answered as `level` by GET /api/kyc. */
  kycLevel: string;
  /** The same, validated: what /api/kyc decides and /api/kyc/required demands. */
  kycRequirement: KycRequirement;
}

/** Thrown at start-up; names the variable to fix. */
export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the environment (documented in .env.example). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('PORT', 'must be a port number (0-65535)');

  const baseURL = (env.BASE_URL || `http://localhost:${port}`).replace(/\/+$/, '');
  try {
    const url = new URL(baseURL);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
  } catch {
    throw new ConfigError('BASE_URL', 'must be an absolute http(s) URL such as https://app.example.com');
  }

  const mode = (env.FRACTAL_ENV || 'sandbox') as FractalMode;
  if (!['sandbox', 'staging', 'production'].includes(mode)) {
    throw new ConfigError('FRACTAL_ENV', 'must be sandbox, staging or production');
  }

  let sessionSecret = env.SESSION_SECRET ?? '';
  let generatedSessionSecret = false;
  if (sessionSecret === '') {
    if (mode === 'production') throw new ConfigError('SESSION_SECRET', 'is required in production (32+ random characters)');
    sessionSecret = randomBytes(32).toString('hex');
    generatedSessionSecret = true;
  } else if (sessionSecret.length < 32) {
    throw new ConfigError('SESSION_SECRET', 'must be at least 32 characters');
  }

  const kycLevel = (env.FRACTAL_KYC_LEVEL ?? '').trim() || 'basic';
  let kycRequirement: KycRequirement;
  try {
    kycRequirement = parseKycRequirement(kycLevel);
  } catch (err) {
    if (!isFractalError(err)) throw err;
    throw new ConfigError('FRACTAL_KYC_LEVEL', `must be a KYC level with optional add-ons, such as basic or basic+liveness (${err.message})`);
  }

  const defaultScopes = ['uid:read', 'contact:read', 'verification.basic:read', 'verification.basic.details:read'];
  const config: AppConfig = {
    port,
    baseURL,
    sessionSecret,
    generatedSessionSecret,
    mode,
    domains: {},
    // Without FRACTAL_SCOPES, also ask for what FRACTAL_KYC_LEVEL needs (nothing more for `basic`).
    scopes: split(env.FRACTAL_SCOPES) ?? [...new Set([...defaultScopes, ...kycRequirement.scopes])],
    requiredScopes: split(env.FRACTAL_REQUIRED_SCOPES) ?? [],
    kycLevel,
    kycRequirement,
  };
  if (env.REDIS_URL) {
    if (!/^rediss?:\/\//.test(env.REDIS_URL)) throw new ConfigError('REDIS_URL', 'must look like redis://127.0.0.1:6379');
    config.redisURL = env.REDIS_URL;
  }
  if (mode !== 'sandbox') {
    if (!env.FRACTAL_CLIENT_ID) throw new ConfigError('FRACTAL_CLIENT_ID', `is required when FRACTAL_ENV=${mode}`);
    if (!env.FRACTAL_CLIENT_SECRET) throw new ConfigError('FRACTAL_CLIENT_SECRET', `is required when FRACTAL_ENV=${mode}`);
  }
  if (env.FRACTAL_CLIENT_ID) config.clientID = env.FRACTAL_CLIENT_ID;
  if (env.FRACTAL_CLIENT_SECRET) config.clientSecret = env.FRACTAL_CLIENT_SECRET;
  for (const [variable, key] of [
    ['FRACTAL_FRONTEND_URL', 'frontend'],
    ['FRACTAL_AUTH_URL', 'auth'],
    ['FRACTAL_RESOURCE_URL', 'resource'],
  ] as const) {
    const value = env[variable];
    if (!value) continue;
    try {
      new URL(value);
    } catch {
      throw new ConfigError(variable, 'must be an absolute URL');
    }
    config.domains[key] = value;
  }
  if (env.FRACTAL_WEBHOOK_SECRET) config.webhookSecret = env.FRACTAL_WEBHOOK_SECRET;
  if (!env.TOKEN_ENCRYPTION_KEY && mode === 'production') {
    throw new ConfigError('TOKEN_ENCRYPTION_KEY', 'is required in production (openssl rand -base64 32)');
  }
  if (env.TOKEN_ENCRYPTION_KEY) {
    if (!/^[A-Za-z0-9+/_-]{43}=?$|^[0-9a-fA-F]{64}$/.test(env.TOKEN_ENCRYPTION_KEY)) {
      throw new ConfigError('TOKEN_ENCRYPTION_KEY', 'must be 32 random bytes, base64 or hex (openssl rand -base64 32)');
    }
    config.tokenEncryptionKey = env.TOKEN_ENCRYPTION_KEY;
  }
  return config;
}

function split(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return value.split(/\s+/).filter(Boolean);
}
