import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ErrorCode } from '../errors';
import { ReauthenticationRequiredError } from '../errors';
import { missingScopes } from '../provider';
import type { FractalTokenSet } from '../provider';
import type { FractalUser } from '../provider';
import type { FractalRequestContext } from './types';

/** What a request context needs from the vault. */
export interface ContextSource {
  getTokenSet(userId: string, rejectedAccessToken?: string): Promise<FractalTokenSet>;
  readScopes(userId: string): Promise<readonly string[]>;
  fetchUser(accessToken: string): Promise<FractalUser>;
  /** A fresh token set known without I/O (the store's cached, decrypted copy), else undefined. */
  peekTokenSet?(userId: string): FractalTokenSet | undefined;
}

/** Finds the signed-in user's id on a request. */
export type UserIdResolver = (req: Request) => string | undefined;

/** Default: `req.user.id` when it is a non-empty string (Passport's deserialized user). */
export const defaultUserId: UserIdResolver = (req) => {
  const id = (req.user as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
};

class RequestContext implements FractalRequestContext {
  readonly #source: ContextSource;
  readonly #resolveUserId: () => string | undefined;
  #userId: { value: string | undefined } | undefined;
  #tokenSet: Promise<FractalTokenSet> | undefined;
  /** The token set this request holds once it is known (at once from the cache, or a read that finished). */
  #known: FractalTokenSet | undefined;
  #scopes: readonly string[] | undefined;

  constructor(source: ContextSource, resolveUserId: () => string | undefined) {
    this.#source = source;
    this.#resolveUserId = resolveUserId;
  }

  /** Resolved on first use, so the middleware may be mounted before `passport.session()`. */
  get userId(): string | undefined {
    this.#userId ??= { value: this.#resolveUserId() };
    return this.#userId.value;
  }

  get grantedScopes(): readonly string[] | undefined {
    return this.#scopes;
  }

  getAccessToken(): Promise<string> {
    const known = this.tokenSetNow();
    return known ? Promise.resolve(known.accessToken) : this.#accessToken();
  }

  /**
   * The fresh token set when it is known without waiting; `undefined` when finding out needs the
   * store, a decryption or a refresh (then `getAccessToken()` does it). Guards use it to decide a
   * warm user's request synchronously (issue 16).
   */
  tokenSetNow(): FractalTokenSet | undefined {
    if (this.#known || this.#tokenSet) return this.#known;
    const userId = this.userId;
    const set = userId === undefined ? undefined : this.#source.peekTokenSet?.(userId);
    if (set) {
      this.#known = set;
      this.#scopes = set.scopes;
    }
    return set;
  }

  async #accessToken(): Promise<string> {
    return (await this.#valid()).accessToken;
  }

  async getGrantedScopes(): Promise<readonly string[]> {
    if (this.#scopes) return this.#scopes;
    if (this.userId === undefined) return [];
    const scopes = this.#tokenSet ? (await this.#tokenSet).scopes : await this.#source.readScopes(this.#user());
    this.#scopes = scopes;
    return scopes;
  }

  async hasScopes(...scopes: string[]): Promise<boolean> {
    return missingScopes(scopes, await this.getGrantedScopes()).length === 0;
  }

  async fetchUser(): Promise<FractalUser> {
    const token = await this.getAccessToken();
    try {
      return await this.#source.fetchUser(token);
    } catch (err) {
      if ((err as { code?: unknown } | null)?.code !== ErrorCode.INVALID_TOKEN) throw err;
      // Revoked or expired early: refresh once (invalid_grant then ends in reauthentication).
      const next = this.#remember(this.#source.getTokenSet(this.#user(), token));
      return this.#source.fetchUser((await next).accessToken);
    }
  }

  /** One store read per request; a failed attempt is not cached, so a retry can succeed. */
  #valid(): Promise<FractalTokenSet> {
    if (this.#tokenSet) return this.#tokenSet;
    const known = this.tokenSetNow();
    if (known) {
      this.#tokenSet = Promise.resolve(known);
      return this.#tokenSet;
    }
    return this.#remember(this.#source.getTokenSet(this.#user()));
  }

  #remember(promise: Promise<FractalTokenSet>): Promise<FractalTokenSet> {
    this.#tokenSet = promise;
    this.#known = undefined;
    promise.then(
      (set) => {
        this.#scopes = set.scopes;
        if (this.#tokenSet === promise) this.#known = set;
      },
      () => {
        if (this.#tokenSet === promise) this.#tokenSet = undefined;
      },
    );
    return promise;
  }

  #user(): string {
    if (this.userId === undefined) throw new ReauthenticationRequiredError('No user is signed in; sign in with Fractal ID');
    return this.userId;
  }
}

/** {@link RequestContext.tokenSetNow} of the vault's own contexts; `undefined` for any other. */
export function tokenSetNow(ctx: FractalRequestContext): FractalTokenSet | undefined {
  return ctx instanceof RequestContext ? ctx.tokenSetNow() : undefined;
}

/** Builds a lazy context; used by the middleware, and by the guard when the middleware is missing. */
export function createRequestContext(source: ContextSource, resolveUserId: () => string | undefined): FractalRequestContext {
  return new RequestContext(source, resolveUserId);
}

/** Puts `req.fractal` on every request. Costs no store round trip by itself. */
export function fractalMiddleware(source: ContextSource, resolveUserId: UserIdResolver): RequestHandler {
  return function fractalTokens(req: Request, _res: Response, next: NextFunction): void {
    req.fractal = createRequestContext(source, () => resolveUserId(req));
    next();
  };
}
