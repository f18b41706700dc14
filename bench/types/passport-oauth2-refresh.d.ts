/** The part of passport-oauth2-refresh the refresh-storm baseline uses (its package has no types). */
declare module 'passport-oauth2-refresh' {
  import type { Strategy } from 'passport';

  type RefreshCallback = (
    err: { statusCode?: number; data?: unknown } | null,
    accessToken?: string,
    refreshToken?: string,
    results?: Record<string, unknown>,
  ) => void;

  class AuthTokenRefresh {
    use(strategy: Strategy): void;
    use(name: string, strategy: Strategy): void;
    has(name: string): boolean;
    requestNewAccessToken(name: string, refreshToken: string, done: RefreshCallback): void;
    requestNewAccessToken(name: string, refreshToken: string, params: Record<string, string>, done: RefreshCallback): void;
  }

  const refresh: AuthTokenRefresh & { AuthTokenRefresh: typeof AuthTokenRefresh };
  export = refresh;
}
