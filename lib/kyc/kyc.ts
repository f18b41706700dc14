import type { Request, RequestHandler } from 'express';
import { ConfigurationError, describeCode, ErrorCode, ReauthenticationRequiredError } from '../errors';
import { missingScopes, type FractalUser } from '../provider';
import { deepFreeze } from '../memory';
import { decideSignedIn, decideSignedInNow, outcomeForError, tokenSetNow, wantsHtml, type FractalRequestContext, type FractalVault, type GuardOutcome } from '../tokens';
import type { FractalWebhookEvent } from '../webhooks';
import { MemoryKycCache, type KycCache, type KycCacheEntry, type KycCacheRead } from './cache';
import { parseKycRequirement, type KycRequirement, type KycRequirementInput } from './requirement';
import { kycStatus, readCases, type KycCaseSummary, type KycDecision, type KycStatusOptions } from './status';

/** `error` of the guard's 403 answer (JSON `{ error, status }`). */
const KYC_REQUIRED = 'kyc_required';
const ALLOW: GuardOutcome = Object.freeze({ kind: 'allow' });

export interface FractalKycOptions extends KycStatusOptions {
  /** The token vault: the guard reads the user's profile through it (refreshing the token if needed). */
  vault: FractalVault;
  /**
   * Where decisions are cached per user. Default: a {@link MemoryKycCache} (one process). With
   * several processes use a `RedisKycCache`, so that a webhook on one invalidates all.
   */
  cache?: KycCache;
  /** Where the guard sends browsers to sign in (with `scope` and `returnTo` query parameters). Default `/auth/fractal`. */
  signInPath?: string;
  /**
   * The vault's user id for a webhook's `user_id` (the Fractal ID uid). Default: the uid itself,
   * which is right when the app saves tokens under `profile.id`.
   */
  userIdOf?: (fractalUid: string) => string | undefined | Promise<string | undefined>;
}

export interface FractalKyc {
  /** The decision for the request's signed-in user. @throws `reauthentication_required` when nobody is signed in. */
  status(req: Request, requirement: KycRequirementInput | KycRequirement): Promise<KycDecision>;
  /** The decision for a user by id (a background job). @throws `reauthentication_required` without stored tokens. */
  statusOf(userId: string, requirement: KycRequirementInput | KycRequirement): Promise<KycDecision>;
  /**
   * A guard: lets the request through when the signed-in user is approved for `requirement`
   * (the decision is then on `res.locals.fractalKyc`). Otherwise JSON clients get
   * `403 {error: 'kyc_required', status}`; browsers whose grant lacks the requirement's scopes are
   * redirected to sign in with them, other browsers get a 403 page. Signed-out users are handled
   * first, exactly like `vault.require()`.
   * @throws ConfigurationError at once for an invalid requirement.
   */
  requireKyc(requirement: KycRequirementInput | KycRequirement): RequestHandler;
  /** Forgets a user's cached decision (call it whenever you know their KYC changed). */
  invalidate(userId: string): Promise<void>;
  /**
   * Invalidates the user of a `verification_approved|rejected|contacted` event (stale ones too:
   * they still mean something changed). Call it from `fractalWebhooks({ onEvent })`; a cache
   * failure rejects, so the delivery fails and the provider retries it. Resolves to true when the
   * event was a verification event.
   */
  handleWebhookEvent(event: FractalWebhookEvent): Promise<boolean>;
  readonly cache: KycCache;
}

/**
 * KYC decisions on top of the token vault, cached per user until a verification webhook (or the
 * cache's TTL) says otherwise. See the README section "KYC decisions".
 */
export function createFractalKyc(options: FractalKycOptions): FractalKyc {
  const vault = options?.vault;
  if (!vault || typeof vault.context !== 'function' || typeof vault.require !== 'function') {
    throw new ConfigurationError('createFractalKyc needs `vault`: the app\'s createFractalVault(...)');
  }
  const cache = options.cache ?? new MemoryKycCache();
  const decisionOptions: KycStatusOptions = { legacyApprovedStatus: options.legacyApprovedStatus === true };
  const signInPath = options.signInPath ?? '/auth/fractal';
  if (!signInPath.startsWith('/') || signInPath.startsWith('//')) throw new ConfigurationError('`signInPath` must be a path on this site, such as /auth/fractal');
  const userIdOf = options.userIdOf ?? ((uid: string) => uid);
  // Concurrent requests of one user share one provider read.
  const inFlight = new Map<string, Promise<KycCaseSummary[]>>();

  /**
   * Per-request work that only depends on objects the caches hand back unchanged (issue 16): the
   * vault's cached scopes array and the memory cache's cases array are the same objects until
   * they change, so their sorted key and the decisions made from them are computed once.
   */
  const scopeKeys = new WeakMap<readonly string[], string>();
  const decisions = new WeakMap<readonly KycCaseSummary[], Map<string, KycDecision>>();

  function keyOf(scopes: readonly string[]): string {
    let key = scopeKeys.get(scopes);
    if (key === undefined) {
      key = [...scopes].sort().join(' ');
      if (Object.isFrozen(scopes)) scopeKeys.set(scopes, key);
    }
    return key;
  }

  function decideFor(cases: KycCaseSummary[], requirement: KycRequirement): KycDecision {
    let byRequirement = decisions.get(cases);
    const known = byRequirement?.get(requirement.name);
    if (known) return known;
    const decision = deepFreeze(kycStatus(cases, requirement, decisionOptions));
    if (!byRequirement) {
      byRequirement = new Map();
      decisions.set(cases, byRequirement);
    }
    byRequirement.set(requirement.name, decision);
    return decision;
  }

  async function casesOf(userId: string, scopes: readonly string[], fetchUser: () => Promise<FractalUser>): Promise<KycCaseSummary[]> {
    const scopesKey = keyOf(scopes);
    let read: KycCacheRead | undefined;
    try {
      read = await cache.read(userId);
    } catch {
      // The cache only saves provider calls: without it, ask the provider.
      read = undefined;
    }
    if (read?.entry && read.entry.scopes === scopesKey) return read.entry.cases;
    const key = `${read?.generation ?? '-'}\u0000${scopesKey}\u0000${userId}`;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = (async () => {
        const cases = readCases(await fetchUser());
        if (read) await cache.write(userId, read.generation, { scopes: scopesKey, cases, fetchedAt: Date.now() }).catch(() => undefined);
        return cases;
      })();
      inFlight.set(key, pending);
      pending.then(
        () => inFlight.delete(key),
        () => inFlight.delete(key),
      );
    }
    return pending;
  }

  const kyc: FractalKyc = {
    cache,
    status: async (req, requirement) => {
      const parsed = parseKycRequirement(requirement);
      const ctx = vault.context(req);
      const userId = ctx.userId;
      if (userId === undefined) throw new ReauthenticationRequiredError('No user is signed in; sign in with Fractal ID');
      return decideFor(await casesOf(userId, await ctx.getGrantedScopes(), () => ctx.fetchUser()), parsed);
    },
    statusOf: async (userId, requirement) => {
      const parsed = parseKycRequirement(requirement);
      const tokenSet = await vault.getTokenSet(userId);
      if (!tokenSet) throw new ReauthenticationRequiredError('No Fractal ID tokens are stored for this user; they must sign in');
      return decideFor(await casesOf(userId, tokenSet.scopes, () => vault.fetchUser(userId)), parsed);
    },
    requireKyc: (requirement) => {
      const parsed = parseKycRequirement(requirement);
      // The vault's own sign-in rules first, then this decision; one responder answers for both.
      const later = async (req: Request, ctx: FractalRequestContext): Promise<GuardOutcome> => (await decideSignedIn(ctx)) ?? decide(req, ctx, parsed);
      return vault.guard((req, ctx) => {
        const signedIn = decideSignedInNow(ctx);
        if (signedIn === undefined) return later(req, ctx);
        return signedIn ?? approvedNow(req, ctx, parsed) ?? decide(req, ctx, parsed);
      });
    },
    invalidate: (userId) => cache.invalidate(userId),
    handleWebhookEvent: async (event) => {
      if (!event.known) return false;
      switch (event.type) {
        case 'verification_approved':
        case 'verification_rejected':
        case 'verification_contacted': {
          // `user-integration/webhooks/available-types.md`: verification data carries `user_id`.
          const userId = await userIdOf(event.data.user_id);
          if (userId !== undefined) await cache.invalidate(userId);
          return true;
        }
        default:
          return false;
      }
    },
  };

  /**
   * `allow` when the user's fresh token set and the cached decision are both known without I/O
   * and the decision approves; `undefined` for everything else, which {@link decide} handles.
   */
  function approvedNow(req: Request, ctx: FractalRequestContext, requirement: KycRequirement): GuardOutcome | undefined {
    const userId = ctx.userId;
    const tokenSet = tokenSetNow(ctx);
    if (userId === undefined || !tokenSet || !cache.peek) return undefined;
    let entry: KycCacheEntry | undefined;
    try {
      entry = cache.peek(userId);
    } catch {
      return undefined;
    }
    if (!entry || entry.scopes !== keyOf(tokenSet.scopes)) return undefined;
    const decision = decideFor(entry.cases, requirement);
    if (decision.status !== 'approved') return undefined;
    if (req.res) req.res.locals.fractalKyc = decision;
    return ALLOW;
  }

  /** The guard's decision, on the guard's own context (the requirement was parsed once, by requireKyc). */
  async function decide(req: Request, ctx: FractalRequestContext, requirement: KycRequirement): Promise<GuardOutcome> {
    let decision: KycDecision;
    try {
      const userId = ctx.userId;
      if (userId === undefined) throw new ReauthenticationRequiredError('No user is signed in; sign in with Fractal ID');
      // Known once the token set was read (decideSignedIn read it): no await for them then.
      const scopes = ctx.grantedScopes ?? (await ctx.getGrantedScopes());
      decision = decideFor(await casesOf(userId, scopes, () => ctx.fetchUser()), requirement);
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (code === ErrorCode.REAUTHENTICATION_REQUIRED) return signIn(requirement, code, describeCode(code));
      return outcomeForError(err);
    }
    if (req.res) req.res.locals.fractalKyc = decision;
    if (decision.status === 'approved') return { kind: 'allow' };
    const lacking = missingScopes(requirement.scopes, await ctx.getGrantedScopes());
    // Only when signing in again can change the answer: a pending or rejected user sent back to
    // the provider would come straight back here, in a loop.
    if (wantsHtml(req) && lacking.length > 0) return signIn(requirement, KYC_REQUIRED, explain(decision, requirement));
    return {
      kind: 'refuse',
      status: 403,
      error: KYC_REQUIRED,
      description: explain(decision, requirement),
      body: { error: KYC_REQUIRED, status: decision.status },
    };
  }

  /** Signing in again with the requirement's scopes: the only thing that can change a `missing`. */
  function signIn(requirement: KycRequirement, error: string, description: string): GuardOutcome {
    return {
      kind: 'sign-in',
      error,
      description,
      invalidToken: error === ErrorCode.REAUTHENTICATION_REQUIRED,
      path: signInPath,
      query: { scope: requirement.scopes.join(' ') },
    };
  }

  return kyc;
}


function explain(decision: KycDecision, requirement: KycRequirement): string {
  switch (decision.status) {
    case 'rejected':
      return `Fractal ID did not approve the ${requirement.name} verification, which this page requires.`;
    case 'contacted':
      return `Fractal ID is waiting for you to complete the ${requirement.name} verification; check your messages from Fractal ID.`;
    case 'pending':
      return `Fractal ID is still reviewing your ${requirement.name} verification; try again later.`;
    default:
      return `This page requires the ${requirement.name} verification at Fractal ID.`;
  }
}
