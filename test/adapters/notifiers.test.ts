import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { SMTPServer } from 'smtp-server';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogNotifier } from '../../src/adapters/log-notifier.js';
import { createSmtpNotifier } from '../../src/adapters/smtp-notifier.js';
import { WEBHOOK_SIGNATURE_HEADER, createWebhookNotifier, signWebhookBody, verifyWebhookSignature } from '../../src/adapters/webhook-notifier.js';
import type { NotificationMessage } from '../../src/ports/notifier.js';
import { notifierConformance } from '../../src/testing/index.js';

const runner = { describe, it, expect };
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const ready: NotificationMessage = {
  kind: 'export-ready',
  requestId: 'req-123',
  requestType: 'export',
  subjectDisplayName: 'Ada Lovelace',
  downloadExpiresAt: new Date('2030-01-08T10:00:00.000Z'),
  recipients: ['dpo@crm.example', 'admin@crm.example'],
  tenantId: 'org-a',
};

// ---------------------------------------------------------------------------------------------------------------
// log

function logNotifier() {
  const lines: string[] = [];
  const notifier = createLogNotifier({ logger: { info: (message, fields) => lines.push(`${message} ${JSON.stringify(fields)}`) } });
  return { notifier, lines, deliveries: async () => [...lines] };
}

notifierConformance('log', logNotifier, runner);

describe('log notifier', () => {
  it('logs the kind, request and expiry, and neither the display name nor any recipient address', async () => {
    const { notifier, lines } = logNotifier();
    await notifier.notify(ready);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('export-ready');
    expect(lines[0]).toContain('req-123');
    expect(lines[0]).toContain('2030-01-08T10:00:00.000Z');
    expect(lines[0]).not.toMatch(/Ada|Lovelace|@crm\.example/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// SMTP, against an in-process smtp-server

interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

async function smtpServer(options: { rejectRecipient?: string } = {}): Promise<{ port: number; mails: ReceivedMail[] }> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (address.address === options.rejectRecipient) return callback(Object.assign(new Error(`mailbox ${address.address} unavailable`), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, mails };
}

const smtpOptions = (port: number) => ({ from: 'privacy@crm.example', host: '127.0.0.1', port, smtpOptions: { ignoreTLS: true } });

notifierConformance(
  'smtp',
  async () => {
    const { port, mails } = await smtpServer();
    return { notifier: createSmtpNotifier(smtpOptions(port)), deliveries: async () => mails.map((mail) => mail.raw) };
  },
  runner,
);

describe('SMTP notifier', () => {
  it('mails the recipients "Personal data export for <name> is ready" with the download expiry', async () => {
    const { port, mails } = await smtpServer();
    const notifier = createSmtpNotifier(smtpOptions(port));
    await notifier.notify(ready);
    await notifier.close();
    expect(mails).toHaveLength(1);
    expect(mails[0].from).toBe('privacy@crm.example');
    expect(mails[0].to).toEqual(['dpo@crm.example', 'admin@crm.example']);
    expect(mails[0].raw).toContain('Subject: Personal data export for Ada Lovelace is ready');
    expect(mails[0].raw).toContain('The download link is available until 2030-01-08T10:00:00.000Z.');
  });

  it('says "Data export failed. Please retry" when an export failed, and names erasures by their type', async () => {
    const { port, mails } = await smtpServer();
    const notifier = createSmtpNotifier(smtpOptions(port));
    await notifier.notify({ ...ready, kind: 'export-failed', downloadExpiresAt: undefined });
    await notifier.notify({ ...ready, kind: 'erasure-completed', requestType: 'delete', downloadExpiresAt: undefined });
    await notifier.notify({ ...ready, kind: 'erasure-failed', requestType: 'anonymize', downloadExpiresAt: undefined });
    await notifier.close();
    expect(mails.map((mail) => /^Subject: (.*)$/m.exec(mail.raw)?.[1])).toEqual([
      'Data export failed. Please retry',
      'Personal data deletion for Ada Lovelace is complete',
      'Data anonymization failed. Please retry',
    ]);
  });

  it('turns one refused recipient, or all of them, into an ADAPTER error whose message holds no address', async () => {
    const { port } = await smtpServer({ rejectRecipient: 'admin@crm.example' });
    const notifier = createSmtpNotifier(smtpOptions(port));
    for (const recipients of [ready.recipients, ['admin@crm.example']]) {
      const error = await notifier.notify({ ...ready, recipients }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ADAPTER', adapter: 'smtp' });
      expect((error as Error).message).not.toMatch(/@|Ada/);
    }
    await notifier.close();
  });

  it('reports an unreachable server as an ADAPTER error', async () => {
    const notifier = createSmtpNotifier({ ...smtpOptions(1), smtpOptions: { ignoreTLS: true, connectionTimeout: 2000 } });
    await expect(notifier.notify(ready)).rejects.toMatchObject({ code: 'ADAPTER', adapter: 'smtp' });
    await notifier.close();
  });

  it('needs a host or a transport', () => {
    expect(() => createSmtpNotifier({ from: 'privacy@crm.example' })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// webhook, against a local node:http server

const SECRET = 'webhook-secret-0123456789abcdef';

interface ReceivedHook {
  headers: IncomingHttpHeaders;
  body: string;
}

async function hookServer(status = 204): Promise<{ url: string; hooks: ReceivedHook[] }> {
  const hooks: ReceivedHook[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/privacy`, hooks };
}

notifierConformance(
  'webhook',
  async () => {
    const { url, hooks } = await hookServer();
    return { notifier: createWebhookNotifier({ url, secret: SECRET }), deliveries: async () => hooks.map((hook) => hook.body) };
  },
  runner,
);

describe('webhook notifier', () => {
  it('POSTs the message as JSON with a signature the receiver verifies', async () => {
    const { url, hooks } = await hookServer();
    await createWebhookNotifier({ url, secret: SECRET, headers: { 'x-api-key': 'k1' } }).notify(ready);
    expect(hooks).toHaveLength(1);
    const [{ headers, body }] = hooks;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-api-key']).toBe('k1');
    expect(verifyWebhookSignature({ body, header: headers[WEBHOOK_SIGNATURE_HEADER], secret: SECRET })).toBe(true);
    expect(verifyWebhookSignature({ body, header: headers[WEBHOOK_SIGNATURE_HEADER], secret: `${SECRET}x` })).toBe(false);
    const payload = JSON.parse(body);
    expect(payload).toMatchObject({
      kind: 'export-ready',
      requestId: 'req-123',
      requestType: 'export',
      tenantId: 'org-a',
      subject: { displayName: 'Ada Lovelace' },
      downloadExpiresAt: '2030-01-08T10:00:00.000Z',
      recipients: ['dpo@crm.example', 'admin@crm.example'],
      title: 'Personal data export for Ada Lovelace is ready',
    });
  });

  it('turns a non-2xx answer or an unreachable receiver into an ADAPTER error', async () => {
    const { url } = await hookServer(500);
    await expect(createWebhookNotifier({ url, secret: SECRET }).notify(ready)).rejects.toMatchObject({ code: 'ADAPTER', adapter: 'webhook' });
    const closed = await hookServer();
    const port = new URL(closed.url).port;
    await cleanups.pop()!();
    await expect(createWebhookNotifier({ url: `http://127.0.0.1:${port}/`, secret: SECRET, timeoutMs: 2000 }).notify(ready)).rejects.toMatchObject({ code: 'ADAPTER' });
  });

  it('refuses a short secret or a non-HTTP URL', () => {
    expect(() => createWebhookNotifier({ url: 'http://127.0.0.1/', secret: 'short' })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    expect(() => createWebhookNotifier({ url: 'file:///etc/passwd', secret: SECRET })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });
});

describe('verifyWebhookSignature', () => {
  const at = (seconds: number) => () => new Date(seconds * 1000);

  it('accepts any body signed with the secret inside the window, and refuses it altered, re-signed with another secret, or replayed later', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), fc.integer({ min: 1_600_000_000, max: 2_000_000_000 }), fc.integer({ min: 0, max: 300 }), (body, extra, t, delay) => {
        const header = signWebhookBody(body, SECRET, t);
        expect(verifyWebhookSignature({ body, header, secret: SECRET, now: at(t + delay) })).toBe(true);
        expect(verifyWebhookSignature({ body: Buffer.from(body), header, secret: SECRET, now: at(t) })).toBe(true);
        expect(verifyWebhookSignature({ body: body + extra, header, secret: SECRET, now: at(t) })).toBe(false);
        expect(verifyWebhookSignature({ body, header: signWebhookBody(body, `${SECRET}!`, t), secret: SECRET, now: at(t) })).toBe(false);
        expect(verifyWebhookSignature({ body, header, secret: SECRET, now: at(t + 301) })).toBe(false);
        expect(verifyWebhookSignature({ body, header, secret: SECRET, now: at(t + 30), toleranceSeconds: 10 })).toBe(false);
      }),
    );
  });

  it('refuses a signature whose timestamp was moved, and malformed headers', () => {
    const t = 1_800_000_000;
    const header = signWebhookBody('{}', SECRET, t);
    const v1 = header.split('v1=')[1];
    expect(verifyWebhookSignature({ body: '{}', header: `t=${t + 1},v1=${v1}`, secret: SECRET, now: at(t) })).toBe(false);
    for (const bad of [undefined, '', 'garbage', `t=${t}`, `v1=${v1}`, `t=abc,v1=${v1}`, `t=${t},v1=${v1.slice(2)}`, `t=${t},v1=${'z'.repeat(64)}`]) {
      expect(verifyWebhookSignature({ body: '{}', header: bad, secret: SECRET, now: at(t) })).toBe(false);
    }
  });
});
