// A small client for the privacy router mounted at /privacy, shared by the CRM's pages. It sends the CSRF token
// (from GET /privacy/session) on every POST, as the router requires for cookie-authenticated calls.
'use strict';

window.PrivacyClient = (function () {
  const BASE = '/privacy/';
  let csrf = null;

  async function session() {
    const response = await fetch(BASE + 'session', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    const body = await response.json();
    if (!response.ok) throw Object.assign(new Error(body.error ? body.error.message : 'Not signed in'), { status: response.status });
    csrf = body.csrfToken;
    return body;
  }

  async function call(method, path, payload) {
    if (method !== 'GET' && !csrf) await session();
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      init.headers['Content-Type'] = 'application/json';
      init.headers['X-CSRF-Token'] = csrf;
      init.body = JSON.stringify(payload || {});
    }
    const response = await fetch(BASE + path, init);
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = (body && body.error) || {};
      throw Object.assign(new Error(error.message || 'Request failed (' + response.status + ')'), { status: response.status, code: error.code, request: error.request });
    }
    return body;
  }

  /** Polls a request until it has finished; onProgress gets every state seen. */
  async function waitFor(load, onProgress) {
    for (;;) {
      const request = await load();
      onProgress(request);
      if (request.status === 'completed' || request.status === 'failed' || (request.status === 'cancelled' && request.finishedAt)) return request;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  return { session, call, waitFor, base: BASE };
})();
