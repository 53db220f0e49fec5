/**
 * `privacy-engine/http`: the framework-neutral HTTP layer the Express router and the NestJS module are built on,
 * for hosts that write an adapter for another framework (see docs/http.md, "Other frameworks").
 */
export {
  createPrivacyHttpHandler,
  privacyRoutes,
  DEFAULT_MAX_BODY_BYTES,
  type PrivacyHttpHandler,
  type PrivacyHttpOptions,
  type PrivacyHttpRequest,
  type PrivacyHttpResponse,
  type SubjectRef,
  type NamedRequest,
  type RouteAccess,
} from './core.js';
export type { BodySource } from './body.js';
export { fromNodeRequest, sendNodeResponse } from './node.js';
export { CSRF_COOKIE, CSRF_HEADER } from './csrf.js';
export { STATUS_OF_CODE, type HttpErrorBody, UnauthenticatedError, CsrfError, PayloadTooLargeError, UnsupportedMediaTypeError, MethodNotAllowedError } from './errors.js';
export { DASHBOARD_CSP } from './responses.js';
export type { Actor } from '../engine/policy.js';
