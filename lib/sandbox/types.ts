import type { EventEmitter } from 'node:events';
import type { DeliveryAttempt, WebhookRetryOptions, WebhookSecrets } from '../webhooks';

/**
 * Where the sandbox delivers signed webhooks when a verification or an email changes, with the
 * provider's retry behaviour (non-2xx or no answer in time is a failure; exponential backoff).
 */
export interface SandboxWebhookOptions {
  /** The app's webhook endpoint, e.g. http://127.0.0.1:3000/webhooks/fractal. */
  url: string;
  /** Secret tokens, as the app's `fractalWebhooks` takes them. */
  secrets: WebhookSecrets;
  /** Backoff; the provider starts at 20 s, which tests shorten. */
  retry?: WebhookRetryOptions;
  /** Default 10 000 ms (provider docs). */
  timeoutMs?: number;
  /** Told about every delivery attempt. */
  onAttempt?: (attempt: DeliveryAttempt) => void;
}

/**
 * Public types of the local Fractal ID emulator. It is a TEST EMULATOR: it keeps everything in
 * memory, trusts whoever sits at the keyboard (the consent page asks "who are you?") and exposes
 * an unauthenticated admin API on loopback. Never deploy it or point production traffic at it.
 */

export type SandboxUserType = 'person' | 'institution';
export type SandboxCaseStatus = 'pending' | 'contacted' | 'done';
export type SandboxCredential = 'pending' | 'approved' | 'rejected';
/** Currencies the provider documents for `wallets[].currency`. */
export type SandboxWalletCurrency = 'ada' | 'algo' | 'btc' | 'eth' | 'kar' | 'sol' | 'substrate' | 'sui' | 'xrp';
/**
 * How `GET /v2/users/me` answers. `full`: every field of the docs' tables. `minimal`: the shapes of
 * the docs' own examples (`user-integration/user-information-retrieval.md`): one case per level
 * with its add-ons joined (`basic+liveness`), no `id`, `credential` or `journey_completed`, the
 * outcome in `status` (`approved`, `rejected`, `contacted`, `pending`), `details: null` without a
 * details scope; add-ons without a level case alone with neither status nor details; emails
 * without `source_type`; wallets without `id` and `verified`. Use it to prove an app copes.
 */
export type SandboxResponseShape = 'full' | 'minimal';

export interface SandboxOptions {
  /** Interface to bind. Default `127.0.0.1`: the emulator has no authentication of its own. */
  host?: string;
  /**
   * Port of the frontend origin. 0 (default) gives each origin its own ephemeral port; any other
   * value puts the auth origin on `port + 1` and the resource origin on `port + 2`.
   */
  port?: number;
  /** Clients registered before the servers start. */
  clients?: SandboxClientInput[];
  /** Access token lifetime in seconds. Default 7200 (provider docs; Doorkeeper's default). */
  accessTokenTTL?: number;
  /** Refresh token lifetime in seconds. The provider docs are silent; default 30 days. */
  refreshTokenTTL?: number;
  /** Authorization code lifetime in seconds. Default 600 (provider docs: 10 minutes). */
  codeTTL?: number;
  /** Scopes granted only to person users. The provider docs do not list them; default none. */
  personOnlyScopes?: string[];
  /** Scopes granted only to institution users. The provider docs do not list them; default none. */
  institutionOnlyScopes?: string[];
  /** Deliver signed webhooks for verification and email changes. Default: none. */
  webhooks?: SandboxWebhookOptions;
  /** GET /authorize approves at once as the default user (benchmarks, demos). Default false. */
  autoApprove?: boolean;
  /** Receives one line per request (method, path, status). Never given secrets, codes or tokens. */
  logger?: (line: string) => void;
  /** Shape of `GET /v2/users/me` answers. Default `full`; see {@link SandboxResponseShape}. */
  responseShape?: SandboxResponseShape;
}

export interface SandboxClientInput {
  /** Default: random. */
  clientID?: string;
  /** Default: random. */
  clientSecret?: string;
  /**
   * Exact redirect URIs (compared byte for byte). HTTPS, or http on a loopback host, without a
   * fragment (provider docs; RFC 6749 section 3.1.2).
   */
  redirectUris: string[];
  /** Shown on the consent page. Default `Sandbox app`. */
  name?: string;
}

export interface SandboxCredentials {
  clientID: string;
  clientSecret: string;
}

export interface SandboxDecision {
  /** Default true. False answers `error=access_denied`. */
  approve?: boolean;
  /** Who the user is. Default `alice@example.com`; the same email always maps to the same uid. */
  email?: string;
  /** Default `person`. */
  userType?: SandboxUserType;
  /** Grant only these of the requested scopes (the user unticked the others). Default: all requested. */
  grantScopes?: string[];
  /** Wallet the user typed at consent. Default: the request's `ensure_wallet`. Empty string: none. */
  wallet?: string;
}

export type SandboxFaultEndpoint = 'token' | 'userinfo' | 'stats' | 'authorize';

export type SandboxFault =
  | { kind: 'status'; status: number; body?: string; contentType?: string; headers?: Record<string, string>; times?: number }
  | { kind: 'delay'; ms: number; times?: number }
  | { kind: 'reset'; times?: number }
  | { kind: 'invalid-json'; times?: number }
  /**
   * The request is handled (a refresh rotates the tokens, a code is used up) but the answer never
   * arrives: the connection is cut instead. A lost response, as when a proxy or the network fails
   * after the provider committed.
   */
  | { kind: 'lost-answer'; times?: number }
  /**
   * A careless provider: answers 400 `invalid_request` whose `error_description` quotes the raw
   * `Authorization` header and body it received, to test that clients redact what they sent.
   */
  | { kind: 'echo'; times?: number };

/** A user's grant to a client as the provider sees it (no token values, only counts). */
export interface SandboxGrant {
  uid: string;
  clientID: string;
  /** Refresh tokens of this user and client that are neither revoked nor expired: > 0 means the grant is alive. */
  liveRefreshTokens: number;
}

export interface SandboxCounts {
  /** GET /authorize requests plus programmatic `authorize()` calls (one per authorization attempt). */
  authorize: number;
  /** Successful token responses per grant type; every other answer (errors, faults) under `failed`. */
  token: { authorization_code: number; refresh_token: number; client_credentials: number; failed: number };
  /** Requests to GET /v2/users/me, whatever the outcome. */
  userinfo: number;
  /** Requests to GET /v2/stats/*, whatever the outcome. */
  stats: number;
}

export interface SandboxWallet {
  id: string;
  address: string;
  currency: SandboxWalletCurrency;
  verified: boolean;
}

export interface SandboxVerificationCase {
  id: string;
  /** Level or add-on name, e.g. `basic` or `liveness`. */
  level: string;
  status: SandboxCaseStatus;
  credential: SandboxCredential;
  journeyCompleted: boolean;
  /** ISO time of the last change, on the sandbox clock. */
  updatedAt: string;
}

/** A snapshot: changing it does not change the sandbox; use {@link SandboxUsers} methods. */
export interface SandboxUser {
  uid: string;
  email: string;
  userType: SandboxUserType;
  /** ISO 3166-1 alpha-2, used by the country statistics. Default `DE`. */
  country: string;
  /** E.164 numbers, served under `phones` with `contact:read`. Default none. */
  phones: string[];
  wallets: SandboxWallet[];
  verificationCases: SandboxVerificationCase[];
}

export interface SandboxUserInput {
  email: string;
  userType?: SandboxUserType;
  country?: string;
}

export interface SandboxVerificationUpdate {
  status?: SandboxCaseStatus;
  credential?: SandboxCredential;
  /** Default: true once the status or the credential has left `pending`. */
  journeyCompleted?: boolean;
}

export interface SandboxWalletInput {
  address: string;
  /** Default: guessed from the address format, else `eth`. */
  currency?: SandboxWalletCurrency;
  /** Default false. */
  verified?: boolean;
}

export interface SandboxUsers {
  get(uid: string): SandboxUser | undefined;
  /** Case-insensitive. */
  findByEmail(email: string): SandboxUser | undefined;
  list(): SandboxUser[];
  /** Creates the user if the email is new, else updates the given fields. */
  ensure(input: SandboxUserInput): SandboxUser;
  /**
   * Creates or updates the verification case of a level or add-on and emits `verification_changed`.
   * @throws SandboxError for an unknown uid or level name.
   */
  setVerification(uid: string, level: string, update?: SandboxVerificationUpdate): SandboxVerificationCase;
  /** Emits `email_changed`. */
  setEmail(uid: string, email: string): SandboxUser;
  setCountry(uid: string, country: string): SandboxUser;
  setPhones(uid: string, phones: string[]): SandboxUser;
  /** Adds the wallet, or updates the one with the same address. */
  addWallet(uid: string, wallet: SandboxWalletInput): SandboxWallet;
}

/** Payload of the `verification_changed` event (shaped like the provider's webhook data). */
export interface SandboxVerificationChangedEvent {
  user_id: string;
  level: string;
  status: SandboxCaseStatus;
  credential: SandboxCredential;
  /** ISO 8601, on the sandbox clock. */
  timestamp: string;
}

/** Payload of the `email_changed` event (the provider's webhook data). */
export interface SandboxEmailChangedEvent {
  user_id: string;
  email: string;
}

export interface SandboxTokenLifetimes {
  /** Seconds. */
  accessToken?: number;
  /** Seconds. */
  refreshToken?: number;
  /** Seconds. */
  code?: number;
}

export interface Sandbox {
  /** Base URLs without trailing slash; each origin has its own port, so a mis-wired URL gets a 404. */
  readonly domains: { frontend: string; auth: string; resource: string };
  /** @throws SandboxError for an invalid redirect URI or a client ID that is already registered. */
  registerClient(input: SandboxClientInput): SandboxCredentials;
  /**
   * Decides on an authorization request without a browser, with the consent form's logic.
   * Resolves to the redirect Location (the callback URL with `code` and `state`, or `error`).
   * @throws SandboxError when the request cannot be redirected (unknown client or redirect URI),
   *   where the real provider would show an error page.
   */
  authorize(authorizeUrl: string, decision?: SandboxDecision): Promise<string>;
  readonly users: SandboxUsers;
  counts(): SandboxCounts;
  resetCounts(): void;
  /** Grants the provider still honours (a live refresh token), per user and client; for soak tests. */
  grants(): SandboxGrant[];
  /** Revokes every code and token of a user, for one client or all (the user revoked the app). */
  revokeGrant(uid: string, clientID?: string): void;
  /**
   * "Expire now": the user's access tokens (for one client, or all) stop working at once, while
   * their refresh tokens still do, so the app's next call must refresh. Returns how many expired.
   */
  expireTokens(uid: string, clientID?: string): number;
  /**
   * Back to the state after start: forgets users, codes and tokens, faults, counts, clock skew,
   * and restores the start-up token lifetimes and response shape. Registered clients and the
   * webhook target stay, so printed credentials remain valid.
   */
  reset(): void;
  /** Applies the fault to the next `times` (default 1) requests of the endpoint, in injection order. */
  injectFault(endpoint: SandboxFaultEndpoint, fault: SandboxFault): void;
  clearFaults(): void;
  /** Lifetimes of codes and tokens issued from now on. */
  setTokenLifetimes(lifetimes: SandboxTokenLifetimes): void;
  /** Switches the shape of `GET /v2/users/me` answers from now on ({@link SandboxResponseShape}). */
  setResponseShape(shape: SandboxResponseShape): void;
  /** Shifts the sandbox clock (created_at, expiries, event timestamps) by `ms` from real time. */
  setClockSkew(ms: number): void;
  /** Emits `verification_changed` ({@link SandboxVerificationChangedEvent}) and `email_changed`. */
  readonly events: EventEmitter;
  /** Starts, replaces or (with `undefined`) stops webhook delivery; pending retries of the previous target are cancelled. */
  setWebhooks(options: SandboxWebhookOptions | undefined): void;
  close(): Promise<void>;
}
