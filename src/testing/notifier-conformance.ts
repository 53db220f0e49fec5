import type { NotificationMessage, NotifierPort } from '../ports/notifier.js';
import type { ConformanceRunner } from './storage-conformance.js';

/** A notifier under test, and a way to read back what it delivered (mails, log lines, webhook bodies), oldest first. */
export interface NotifierUnderTest {
  notifier: NotifierPort;
  deliveries(): Promise<string[]>;
}

const expiry = new Date('2030-01-08T10:00:00.000Z');
const base = { recipients: ['dpo@crm.example'], subjectDisplayName: 'Ada Lovelace', tenantId: 'org-a' };
const messages: NotificationMessage[] = [
  { ...base, kind: 'export-ready', requestId: 'req-ready-1', requestType: 'export', downloadExpiresAt: expiry },
  { ...base, kind: 'export-failed', requestId: 'req-failed-2', requestType: 'export' },
  { ...base, kind: 'erasure-completed', requestId: 'req-erased-3', requestType: 'delete' },
  { ...base, kind: 'erasure-failed', requestId: 'req-erasefail-4', requestType: 'anonymize' },
];

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
}

/** Every NotifierPort must pass this: one delivery per message, each kind, invalid messages refused before sending. */
export function notifierConformance(name: string, create: () => Promise<NotifierUnderTest> | NotifierUnderTest, { describe, it, expect }: ConformanceRunner): void {
  describe(`NotifierPort conformance: ${name}`, () => {
    it('delivers every kind of message once, each naming its request', async () => {
      const { notifier, deliveries } = await create();
      for (const message of messages) await notifier.notify(message);
      const delivered = await deliveries();
      expect(delivered.length).toBe(messages.length);
      messages.forEach((message, i) => expect(delivered[i].includes(message.requestId)).toBe(true));
      await notifier.close();
    });
    it('refuses a message without recipients, or of an unknown kind, with a VALIDATION error and sends nothing', async () => {
      const { notifier, deliveries } = await create();
      expect(await codeOf(notifier.notify({ ...messages[1], recipients: [] }))).toBe('VALIDATION');
      expect(await codeOf(notifier.notify({ ...messages[1], kind: 'export-lost' } as unknown as NotificationMessage))).toBe('VALIDATION');
      expect(await codeOf(notifier.notify({ ...messages[1], recipients: ['not an address'] }))).toBe('VALIDATION');
      expect((await deliveries()).length).toBe(0);
      await notifier.close();
    });
    it('refuses an export-ready message without its download expiry', async () => {
      const { notifier, deliveries } = await create();
      expect(await codeOf(notifier.notify({ ...messages[0], downloadExpiresAt: undefined }))).toBe('VALIDATION');
      expect((await deliveries()).length).toBe(0);
      await notifier.close();
    });
    it('closes twice without error', async () => {
      const { notifier } = await create();
      await notifier.notify(messages[2]);
      await notifier.close();
      await notifier.close();
    });
  });
}
