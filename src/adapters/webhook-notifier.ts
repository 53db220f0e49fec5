import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AdapterError } from '../errors.js';
import type { NotificationMessage, NotifierPort } from '../ports/notifier.js';
import { parseNotification, renderNotification } from '../notifications/messages.js';
import { parseAdapterInput } from './adapter-options.js';

/** The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-privacy-engine-signature';

export interface WebhookNotifierOptions {
  url: string;
  /** Shared with the receiver, who checks each request with `verifyWebhookSignature`. At least 16 characters. */
  secret: string;
  /** Extra headers (an API key, say). */
  headers?: Record<string, string>;
  /** Per request; defaults to 10 s. */
  timeoutMs?: number;
  /** For tests: the signing time. */
  now?: () => Date;
}

/** The JSON a webhook receiver gets. */
export interface WebhookPayload {
  kind: NotificationMessage['kind'];
  requestId: string;
  requestType: NotificationMessage['requestType'] | null;
  tenantId: string | null;
  subject: { displayName: string | null };
  downloadExpiresAt: string | null;
  recipients: string[];
  /** The same wording the e-mail uses. */
  title: string;
  text: string;
  sentAt: string;
}

const optionsSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  secret: z.string().min(16),
  headers: z.record(z.string(), z.string()).optional(),
  timeoutMs: z.number().int().min(1).max(300_000).default(10_000),
  now: z.custom<() => Date>((f) => typeof f === 'function').optional(),
});

function sign(secret: string, timestamp: number, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** `t=…,v1=…` for a body signed at `timestamp` (unix seconds). */
export function signWebhookBody(body: string | Buffer, secret: string, timestamp: number): string {
  return `t=${timestamp},v1=${sign(secret, timestamp, body)}`;
}

export interface VerifyWebhookOptions {
  /** The raw request body, exactly as received (not re-serialized JSON). */
  body: string | Buffer;
  /** The signature header's value. */
  header: string | string[] | undefined;
  secret: string;
  /** How old (or how far in the future) a signature may be; defaults to 300 s. Bounds replays. */
  toleranceSeconds?: number;
  now?: () => Date;
}

/**
 * For receivers: true when the header signs this body with the secret and its timestamp is inside the replay
 * window. Compares in constant time; any malformed header is simply false.
 */
export function verifyWebhookSignature(options: VerifyWebhookOptions): boolean {
  const header = Array.isArray(options.header) ? options.header[0] : options.header;
  if (typeof header !== 'string' || header.length > 1000) return false;
  const parts = new Map(header.split(',').map((part) => part.trim().split('=', 2) as [string, string | undefined]));
  const t = parts.get('t');
  const v1 = parts.get('v1');
  if (!t || !/^\d{1,12}$/.test(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const timestamp = Number(t);
  const now = Math.floor((options.now?.() ?? new Date()).getTime() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(sign(options.secret, timestamp, options.body), 'hex');
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}

/** POSTs each notification as signed JSON. A non-2xx answer, a timeout or a network error is an AdapterError. */
export function createWebhookNotifier(options: WebhookNotifierOptions): NotifierPort {
  const opts = parseAdapterInput(optionsSchema, options, 'webhook notifier options');
  const now = opts.now ?? (() => new Date());
  return {
    name: 'webhook',
    async notify(input) {
      const message = parseNotification(input);
      const rendered = renderNotification(message);
      const sentAt = now();
      const payload: WebhookPayload = {
        kind: message.kind,
        requestId: message.requestId,
        requestType: message.requestType ?? null,
        tenantId: message.tenantId ?? null,
        subject: { displayName: message.subjectDisplayName ?? null },
        downloadExpiresAt: message.downloadExpiresAt?.toISOString() ?? null,
        recipients: message.recipients,
        title: rendered.subject,
        text: rendered.text,
        sentAt: sentAt.toISOString(),
      };
      const body = JSON.stringify(payload);
      const timestamp = Math.floor(sentAt.getTime() / 1000);
      let response: Response;
      try {
        response = await fetch(opts.url, {
          method: 'POST',
          headers: { ...opts.headers, 'content-type': 'application/json', [WEBHOOK_SIGNATURE_HEADER]: signWebhookBody(body, opts.secret, timestamp) },
          body,
          signal: AbortSignal.timeout(opts.timeoutMs),
          redirect: 'error',
        });
      } catch (cause) {
        throw new AdapterError('webhook', `Could not deliver the ${message.kind} notification for request ${message.requestId}`, cause);
      }
      // Read the body so the connection can be reused; its content is the receiver's business.
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) {
        throw new AdapterError('webhook', `The webhook answered ${response.status} to the ${message.kind} notification for request ${message.requestId}`);
      }
    },
    async close() {},
  };
}
