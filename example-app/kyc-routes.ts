import express, { type Router } from 'express';
import { ErrorCode, isFractalError, type FractalKyc } from 'passport-fractal-id';
import type { AppConfig } from './config';

/** GET /api/kyc and GET /api/kyc/required, for the requirement FRACTAL_KYC_LEVEL names. */
export function kycRoutes(kyc: FractalKyc, config: AppConfig): Router {
  const router = express.Router();

  // The KYC decision for FRACTAL_KYC_LEVEL, from the per-user cache or fresh from Fractal ID.
  router.get('/api/kyc', async (req, res, next) => {
    if (!req.user) {
      res.status(401).json({ error: 'unauthenticated' });
      return;
    }
    try {
      const decision = await kyc.status(req, config.kycRequirement);
      res.json({ level: config.kycLevel, status: decision.status, items: decision.items.map((i) => ({ item: i.item, status: i.status })) });
    } catch (err) {
      if (isFractalError(err) && err.code === ErrorCode.REAUTHENTICATION_REQUIRED) {
        req.logout(() => res.status(401).json({ error: 'reauthentication_required' }));
        return;
      }
      next(err);
    }
  });

  // 200 only for users approved at FRACTAL_KYC_LEVEL: the library's guard, behind this app's 401.
  router.get(
    '/api/kyc/required',
    (req, res, next) => {
      if (!req.user) res.status(401).json({ error: 'unauthenticated' });
      else next();
    },
    kyc.requireKyc(config.kycRequirement),
    (_req, res) => {
      res.json({ level: config.kycLevel, status: 'approved' });
    },
  );

  return router;
}
