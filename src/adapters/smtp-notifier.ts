import { z } from 'zod';
import { AdapterError } from '../errors.js';
import type { NotifierPort } from '../ports/notifier.js';
import { parseNotification, renderNotification } from '../notifications/messages.js';
import { importPeer, parseAdapterInput } from './adapter-options.js';

/** The one nodemailer call this adapter makes, so a host can pass its own transporter (or a test double). */
export interface MailTransportLike {
  sendMail(mail: { from: string; to: string[]; subject: string; text: string }): Promise<unknown>;
  close?(): void;
}

export interface SmtpNotifierOptions {
  /** Sender address, e.g. `"Privacy" <privacy@crm.example>`. */
  from: string;
  /** SMTP server; ignored when `transport` is given. */
  host?: string;
  port?: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  secure?: boolean;
  auth?: { user: string; pass: string };
  /** A ready nodemailer transporter (or anything with sendMail). */
  transport?: MailTransportLike;
  /** Extra nodemailer SMTP transport options (timeouts, tls...), passed through. */
  smtpOptions?: Record<string, unknown>;
}

type NodemailerFactory = (options: Record<string, unknown>) => MailTransportLike;

const optionsSchema = z
  .object({
    from: z.string().min(3).max(320),
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65_535).optional(),
    secure: z.boolean().optional(),
    auth: z.object({ user: z.string(), pass: z.string() }).optional(),
    transport: z.custom<MailTransportLike>((t) => typeof (t as MailTransportLike | undefined)?.sendMail === 'function').optional(),
    smtpOptions: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((o) => o.transport !== undefined || o.host !== undefined, { message: 'either host or transport is required', path: ['host'] });

/** Sends each notification as a plain-text e-mail to the message's recipients, through nodemailer. */
export function createSmtpNotifier(options: SmtpNotifierOptions): NotifierPort {
  const opts = parseAdapterInput(optionsSchema, options, 'SMTP notifier options');
  let transport: Promise<MailTransportLike> | undefined = opts.transport ? Promise.resolve(opts.transport) : undefined;
  const ownsTransport = !opts.transport;

  const getTransport = () =>
    (transport ??= importPeer('smtp', 'nodemailer', () => import('nodemailer')).then((mod) => {
      // Named export in nodemailer's ESM build, `default.createTransport` when a bundler wraps its CommonJS one.
      const { createTransport } = mod as unknown as { createTransport?: NodemailerFactory; default?: { createTransport: NodemailerFactory } };
      const create = createTransport ?? (mod as unknown as { default: { createTransport: NodemailerFactory } }).default.createTransport;
      return create({ host: opts.host, port: opts.port, secure: opts.secure ?? false, auth: opts.auth, ...opts.smtpOptions });
    }));

  return {
    name: 'smtp',
    async notify(input) {
      const message = parseNotification(input);
      const { subject, text } = renderNotification(message);
      const mailer = await getTransport();
      let info: { rejected?: unknown[] } | undefined;
      try {
        info = (await mailer.sendMail({ from: opts.from, to: message.recipients, subject, text })) as { rejected?: unknown[] } | undefined;
      } catch (cause) {
        // The server's reply may echo addresses: keep it as the cause only, not in the message.
        throw new AdapterError('smtp', `Could not send the ${message.kind} notification for request ${message.requestId}`, cause);
      }
      // nodemailer resolves when some recipients were accepted; an admin who was refused still has not been told.
      const refused = info?.rejected?.length ?? 0;
      if (refused > 0) {
        throw new AdapterError('smtp', `The mail server refused ${refused} of ${message.recipients.length} recipients of the ${message.kind} notification for request ${message.requestId}`);
      }
    },
    async close() {
      if (ownsTransport && transport) (await transport.catch(() => undefined))?.close?.();
      transport = undefined;
    },
  };
}
