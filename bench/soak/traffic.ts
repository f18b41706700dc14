import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { cookieFrom, getJson, httpRequest, postJson, type HttpAnswer, type HttpOptions } from '../harness/http';
import { loadWebhooks } from '../harness/dist';
import type { SandboxGrant } from '../../lib/sandbox/types';

/** The example app's session cookie (example-app/app.ts). */
const SESSION_COOKIE = 'fractal.sid';
const REQUEST_TIMEOUT_MS = 15_000;

/** A signed-in browser: its cookie, and what it did (for the expiry estimate). */
export interface SoakUser {
  email: string;
  uid: string;
  cookie?: string;
  /** Start of the access token lifetime the user's calls are in (estimate, see `expiries`). */
  tokenSince: number;
  /** The same at the vault's refresh point (half the lifetime). */
  refreshSince: number;
  busy: boolean;
}

/** A grant lost: the provider still honours it, the app wants a new sign-in. */
export interface LostGrant {
  atSecond: number;
  uid: string;
  route: string;
  answer: string;
  /** Faults injected in the 20 s before. */
  recentFaults: string[];
}

/** One app process as the driver (the load balancer) sees it. */
export interface AppSlot {
  url: string;
  up: boolean;
}

export interface TrafficOptions {
  apps: AppSlot[];
  sandboxAuth: string;
  webhookSecret: string;
  accessTokenSeconds: number;
  maxUsers: number;
  recentFaults: () => string[];
  startedAt: number;
}

/** Mixed traffic against the four app processes, with the books a soak report needs. */
export class Traffic {
  readonly users: SoakUser[] = [];
  readonly answers = new Map<string, number>();
  readonly lost: LostGrant[] = [];
  /** Reason -> count and the second of the run of the first few. */
  readonly signInFailures = new Map<string, { n: number; atSecond: number[] }>();
  requests = 0;
  signIns = 0;
  /** Access tokens that expired while their user kept calling (see `protectedCall`). */
  expiries = 0;
  /**
   * The same at the vault's refresh point: it refreshes once the token has less than its skew
   * left, the skew capped at half the lifetime (lib/tokens/refresher.ts), so a 5 s token is
   * refreshed after 2.5 s. One refresh per point is the ideal; more means duplicate refreshes.
   */
  refreshPoints = 0;
  /** 401s for users whose grant the provider had revoked or let expire (not lost: the provider ended it). */
  endedByProvider = 0;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 64 });
  readonly #o: TrafficOptions;

  constructor(options: TrafficOptions) {
    this.#o = options;
  }

  close(): void {
    this.#agent.destroy();
  }

  /** One step of a virtual user: mostly protected calls, some sign-ins, KYC checks and webhooks. */
  async step(): Promise<void> {
    const roll = Math.random();
    const idle = this.users.filter((u) => !u.busy && u.cookie !== undefined);
    if (idle.length === 0 || roll < 0.08) return this.signIn(this.users.length < this.#o.maxUsers ? undefined : pick(this.users));
    const user = pick(idle);
    user.busy = true;
    try {
      if (roll < 0.7) await this.protectedCall(user, '/api/me');
      else if (roll < 0.85) await this.protectedCall(user, Math.random() < 0.5 ? '/api/kyc' : '/api/kyc/required');
      else await this.webhooks(user);
    } finally {
      user.busy = false;
    }
  }

  /** The authorize flow over HTTP, like bench/scenarios/login-cycle.ts, as a given (or new) user. */
  async signIn(existing?: SoakUser): Promise<void> {
    if (existing?.busy) return;
    const email = existing?.email ?? `soak-${randomBytes(6).toString('hex')}@example.com`;
    if (existing) existing.busy = true;
    try {
      const { uid } = await postJson<{ uid: string }>(`${this.#o.sandboxAuth}/_sandbox/users`, { email });
      const start = await this.#send('sign-in start', '/auth/fractal');
      const authorizeUrl = start?.headers.location;
      const cookie = start && cookieFrom(start, SESSION_COOKIE);
      if (start?.status !== 302 || !authorizeUrl || !cookie) return this.#signInFailed(`start ${start?.status ?? 'error'}`);
      const { location } = await postJson<{ location: string }>(`${this.#o.sandboxAuth}/_sandbox/authorize`, { url: authorizeUrl, decision: { email } });
      const callback = new URL(location);
      if (!callback.searchParams.has('code')) return this.#signInFailed(`authorize ${callback.searchParams.get('error')}`);
      const done = await this.#send('sign-in callback', callback.pathname + callback.search, { headers: { cookie, accept: 'application/json' } });
      const signedIn = done && cookieFrom(done, SESSION_COOKIE);
      if (done?.status !== 302 || !signedIn) return this.#signInFailed(`callback ${done?.status ?? 'error'} ${errorOf(done)}`);
      this.signIns++;
      const user = existing ?? { email, uid, tokenSince: 0, refreshSince: 0, busy: false };
      user.cookie = signedIn;
      user.tokenSince = Date.now();
      user.refreshSince = user.tokenSince;
      if (!existing) this.users.push(user);
    } finally {
      if (existing) existing.busy = false;
    }
  }

  /**
   * A call behind the session and the vault. 2xx and 403 (KYC not approved) are service; 5xx and
   * connection errors are transient (the faults); a 401 is a sign-out, and a lost grant when the
   * provider still honours the user's grant.
   */
  async protectedCall(user: SoakUser, path: string): Promise<'ok' | 'transient' | 'signed-out'> {
    const now = Date.now();
    const answer = await this.#send(`GET ${path}`, path, { headers: { cookie: user.cookie ?? '', accept: 'application/json' } });
    if (!answer || answer.status >= 500) return 'transient';
    if (answer.status === 401) {
      const grant = (await getJson<SandboxGrant[]>(`${this.#o.sandboxAuth}/_sandbox/grants`)).find((g) => g.uid === user.uid);
      if (grant && grant.liveRefreshTokens > 0) {
        this.lost.push({ atSecond: Math.round((now - this.#o.startedAt) / 1000), uid: user.uid, route: path, answer: `401 ${errorOf(answer)}`, recentFaults: this.#o.recentFaults() });
      } else {
        this.endedByProvider++;
      }
      delete user.cookie;
      // The browser signs in again, so the traffic goes on.
      user.busy = false;
      await this.signIn(user);
      return 'signed-out';
    }
    // Estimated expiries: a call made at least one lifetime after the current token's start needed
    // a new token (the vault refreshes on demand, so it is also when the new lifetime starts).
    if (now - user.tokenSince >= this.#o.accessTokenSeconds * 1000) {
      this.expiries++;
      user.tokenSince = now;
    }
    if (now - user.refreshSince >= (this.#o.accessTokenSeconds * 1000) / 2) {
      this.refreshPoints++;
      user.refreshSince = now;
    }
    return 'ok';
  }

  /**
   * A verification journey for the user: the sandbox records `contacted` then `approved`, and the
   * provider's notifications arrive signed but reordered (approved first) and duplicated, at any
   * process. The app must answer 2xx to each (a duplicate or stale one included).
   */
  async webhooks(user: SoakUser): Promise<void> {
    const level = 'basic';
    const post = (body: Record<string, unknown>) => postJson<{ updatedAt: string }>(`${this.#o.sandboxAuth}/_sandbox/verification`, { uid: user.uid, level, ...body });
    const contacted = await post({ status: 'contacted', credential: 'pending' });
    const credential = Math.random() < 0.8 ? 'approved' : 'rejected';
    const decided = await post({ status: 'done', credential });
    const events = [
      { type: 'verification_contacted', data: { level, user_id: user.uid, timestamp: contacted.updatedAt } },
      { type: `verification_${credential}`, data: { level, user_id: user.uid, timestamp: decided.updatedAt } },
    ];
    const bodies = events.map((e) => JSON.stringify(e));
    const order = [bodies[1], bodies[0], bodies[1], Math.random() < 0.5 ? bodies[0] : bodies[1]] as string[];
    const { signFractalWebhook, FRACTAL_SIGNATURE_HEADER } = loadWebhooks();
    for (const body of order) {
      await this.#send('POST /webhooks/fractal', '/webhooks/fractal', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', [FRACTAL_SIGNATURE_HEADER]: signFractalWebhook(this.#o.webhookSecret, body) },
      });
    }
  }

  /** One request to a random live process; undefined on a transport error (counted under `error`). */
  async #send(route: string, path: string, options: HttpOptions = {}): Promise<HttpAnswer | undefined> {
    const live = this.#o.apps.filter((a) => a.up);
    const app = pick(live.length > 0 ? live : this.#o.apps);
    this.requests++;
    try {
      const answer = await httpRequest(`${app.url}${path}`, { agent: this.#agent, timeoutMs: REQUEST_TIMEOUT_MS, ...options });
      this.#count(route, String(answer.status));
      return answer;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? ((err as Error).message.startsWith('timeout') ? 'timeout' : 'error');
      this.#count(route, code);
      return undefined;
    }
  }

  #count(route: string, status: string): void {
    const key = `${route} ${status}`;
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
  }

  #signInFailed(reason: string): void {
    const entry = this.signInFailures.get(reason) ?? { n: 0, atSecond: [] };
    entry.n++;
    if (entry.atSecond.length < 5) entry.atSecond.push(Math.round((Date.now() - this.#o.startedAt) / 1000));
    this.signInFailures.set(reason, entry);
  }
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}

function errorOf(answer: HttpAnswer | undefined): string {
  if (!answer) return '';
  try {
    return String((JSON.parse(answer.body) as { error?: unknown }).error ?? '');
  } catch {
    return '';
  }
}
