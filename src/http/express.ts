/**
 * `privacy-engine/express`: the privacy routes and the admin dashboard as an Express 5 router.
 *
 * ```ts
 * app.use('/privacy', createPrivacyRouter(engine, { getActor: (req) => req.user && toActor(req.user) }));
 * ```
 * Mount it without a body parser in front of it, or with one: it reads (and size-limits) the JSON body itself
 * when nothing read it before. Every path below the mount point is answered (unknown ones with a JSON 404).
 */
import express, { type Request, type Router } from 'express';
import type { PrivacyEngine } from '../engine/privacy-engine.js';
import { type PrivacyHttpOptions, createPrivacyHttpHandler } from './core.js';
import { fromNodeRequest, sendNodeResponse } from './node.js';

export type PrivacyRouterOptions = PrivacyHttpOptions<Request>;

export function createPrivacyRouter(engine: PrivacyEngine, options: PrivacyRouterOptions): Router {
  const handler = createPrivacyHttpHandler<Request>(engine, options);
  const router = express.Router();
  router.use((req, res, next) => {
    handler
      .handle(fromNodeRequest(req, { url: req.url, mountPath: req.baseUrl, secure: req.secure }))
      .then((response) => sendNodeResponse(res, response))
      .catch(next);
  });
  return router;
}

export type { PrivacyHttpOptions, SubjectRef, NamedRequest } from './core.js';
export type { Actor } from '../engine/policy.js';
