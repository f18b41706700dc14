import { ConfigurationError } from '../errors';

export type FractalEnvironment = 'production' | 'staging';

/** Base URLs of the three Fractal ID origins. No trailing slash. */
export interface FractalDomains {
  /** Hosts the authorization page (`/authorize`). */
  frontend: string;
  /** Hosts the token endpoint (`/oauth/token`). */
  auth: string;
  /** Hosts the API (`/v2/users/me`, `/v2/stats/*`). */
  resource: string;
}

/**
 * The origins per environment, from the provider's docs. Older docs name `next.fractal.id` hosts
 * for staging; these are the current ones.
 */
export const FRACTAL_DOMAINS: Readonly<Record<FractalEnvironment, Readonly<FractalDomains>>> = {
  production: {
    frontend: 'https://app.fractal.id',
    auth: 'https://auth.fractal.id',
    resource: 'https://resource.fractal.id',
  },
  staging: {
    frontend: 'https://app.staging.sandbox.fractal.id',
    auth: 'https://auth.staging.sandbox.fractal.id',
    resource: 'https://resource.staging.sandbox.fractal.id',
  },
};

export interface DomainOptions {
  /** Default `production`. */
  environment?: FractalEnvironment;
  /** Override any origin (the local sandbox, tests, a future domain move). */
  domains?: Partial<FractalDomains>;
}

/**
 * Resolves the three base URLs. Overrides must be HTTPS, except on loopback hosts (the local
 * sandbox), so that a typo cannot send credentials in clear text.
 */
export function resolveDomains(options: DomainOptions = {}): FractalDomains {
  const environment = options.environment ?? 'production';
  const base = FRACTAL_DOMAINS[environment];
  if (!base) {
    throw new ConfigurationError(`Unknown environment "${String(environment)}"; use "production" or "staging"`);
  }
  const overrides = options.domains ?? {};
  return {
    frontend: overrides.frontend !== undefined ? checkBaseUrl('domains.frontend', overrides.frontend) : base.frontend,
    auth: overrides.auth !== undefined ? checkBaseUrl('domains.auth', overrides.auth) : base.auth,
    resource: overrides.resource !== undefined ? checkBaseUrl('domains.resource', overrides.resource) : base.resource,
  };
}

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and [::1]. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '[::1]' ||
    host === '::1' ||
    /^127(\.\d{1,3}){3}$/.test(host)
  );
}

function checkBaseUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(`${name} must be an absolute URL such as https://auth.example.com, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new ConfigurationError(`${name} must use https (plain http is allowed for loopback hosts only)`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ConfigurationError(`${name} must not contain credentials, a query or a fragment`);
  }
  return url.href.replace(/\/+$/, '');
}
