import { ConfigurationError } from '../errors';
import { ErrorCode } from '../errors';
import { FractalError } from '../errors';

/**
 * The journey's extra authorization parameters: `method` (preferred login) and `currency`
 * (preferred wallet currency). Documented for the embedded journey, where the URL is otherwise
 * the same as the redirect journey's (user-integration/embedded-journey-iframe.md, "Generating
 * iframe URL"); they are harmless in a full-page redirect too.
 */
export const JOURNEY_METHODS = ['wallet', 'email', 'phone'] as const;
export const JOURNEY_CURRENCIES = ['eth', 'kar'] as const;

export type FractalJourneyMethod = (typeof JOURNEY_METHODS)[number];
export type FractalJourneyCurrency = (typeof JOURNEY_CURRENCIES)[number];

/** A per-request `method` or `currency` is not one of the documented values; nothing was sent to the provider. */
export class JourneyOptionError extends FractalError {
  constructor(message: string) {
    super(ErrorCode.INVALID_JOURNEY_OPTION, message);
  }
}

export interface JourneyOptions {
  method?: FractalJourneyMethod;
  currency?: FractalJourneyCurrency;
}

function check(name: 'method' | 'currency', value: unknown, allowed: readonly string[]): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && allowed.includes(value)) return value;
  // The value may come from a query string: name it only when it is short and printable.
  const shown = typeof value === 'string' && /^[\x20-\x7e]{0,32}$/.test(value) ? JSON.stringify(value) : `a ${typeof value}`;
  throw new JourneyOptionError(`${name} must be one of ${allowed.join(', ')} (user-integration/embedded-journey-iframe.md); got ${shown}`);
}

/**
 * Checks `method` and `currency` given per request.
 * @throws JourneyOptionError (400)
 */
export function readJourneyOptions(options: { method?: unknown; currency?: unknown }): JourneyOptions {
  const result: JourneyOptions = {};
  const method = check('method', options.method, JOURNEY_METHODS);
  const currency = check('currency', options.currency, JOURNEY_CURRENCIES);
  if (method !== undefined) result.method = method as FractalJourneyMethod;
  if (currency !== undefined) result.currency = currency as FractalJourneyCurrency;
  return result;
}

/**
 * Checks the strategy's own `method` and `currency` at construction.
 * @throws ConfigurationError
 */
export function checkJourneyConfig(options: { method?: unknown; currency?: unknown }): JourneyOptions {
  try {
    return readJourneyOptions(options);
  } catch (err) {
    throw new ConfigurationError((err as Error).message);
  }
}

/** Per-request values win over the strategy's; the result goes into the authorization URL. */
export function journeyAuthorizationParams(config: JourneyOptions, request: { method?: unknown; currency?: unknown }): Record<string, string> {
  const own = readJourneyOptions(request);
  const params: Record<string, string> = {};
  const method = own.method ?? config.method;
  const currency = own.currency ?? config.currency;
  if (method !== undefined) params.method = method;
  if (currency !== undefined) params.currency = currency;
  return params;
}

declare module 'passport' {
  // Lets `passport.authenticate('fractal', { method, currency })` type-check.
  interface AuthenticateOptions {
    method?: FractalJourneyMethod;
    currency?: FractalJourneyCurrency;
  }
}
