import type { Request } from 'express';
import passport from 'passport';
import { FractalStrategy, type FractalProfile, type FractalTokenParams } from '../lib';

// Compile-time checks of the public types: `npm test` runs tsc over this file, and each
// expect-error directive below fails the type check if the line it marks stops being an error.
const base = { clientID: 'id', clientSecret: 'secret', callbackURL: 'https://app.example.com/cb' };

describe('public types', () => {
  it('tie the verify signature to passReqToCallback and skipUserProfile', () => {
    const plain = new FractalStrategy(base, (accessToken, refreshToken, params, profile, done) => {
      const token: string = accessToken;
      const refresh: string | undefined = refreshToken;
      const scopes: string[] = params.grantedScopes;
      const id: string = profile.id; // a profile, never undefined, without skipUserProfile
      void [token, refresh, scopes];
      done(null, { id });
    });
    const withRequest = new FractalStrategy({ ...base, passReqToCallback: true }, async (req, _a, _r, _p, profile) => {
      const path: string = req.path;
      return { id: `${path}:${profile.id}` };
    });
    const skipping = new FractalStrategy({ ...base, skipUserProfile: true }, (_a, _r, _p, profile, done) => {
      // @ts-expect-error the profile may be undefined when skipUserProfile is set
      const id: string = profile.id;
      done(null, { id });
    });
    // Type errors only: never run.
    const compileOnly = () => {
      // @ts-expect-error passReqToCallback: true requires a verify that takes req first
      new FractalStrategy({ ...base, passReqToCallback: true }, (accessToken: string, _r: string | undefined, _p: FractalTokenParams, _profile: FractalProfile, done: () => void) => done());
      // @ts-expect-error clientSecret is required
      new FractalStrategy({ clientID: 'id', callbackURL: 'https://a.example/cb' }, () => undefined);
    };

    passport.use(plain);
    passport.authenticate('fractal', { ensureWallet: '0xabc', returnTo: '/profile', appState: { plan: 'pro' }, failureRedirect: '/' });
    const req = {} as Request;
    const info: Express.AuthInfo | undefined = req.authInfo;
    const returnTo: string | undefined = info?.fractal?.returnTo;
    void [withRequest, skipping, returnTo, compileOnly];
    expect(plain.name).toBe('fractal');
  });
});
