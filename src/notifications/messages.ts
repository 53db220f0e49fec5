import { z } from 'zod';
import { parseAdapterInput } from '../adapters/adapter-options.js';
import type { NotificationMessage } from '../ports/notifier.js';

export const notificationMessageSchema = z.object({
  kind: z.enum(['export-ready', 'export-failed', 'erasure-completed', 'erasure-failed']),
  requestId: z.string().min(1).max(64),
  requestType: z.enum(['export', 'anonymize', 'delete']).optional(),
  subjectDisplayName: z.string().max(500).optional(),
  downloadExpiresAt: z.date().optional(),
  recipients: z.array(z.email()).min(1).max(100),
  tenantId: z.string().max(191).nullable().optional(),
});

/** Validates a message before any adapter delivers it. */
export function parseNotification(message: unknown): NotificationMessage {
  const parsed = parseAdapterInput(notificationMessageSchema, message, 'notification');
  if (parsed.kind === 'export-ready' && !parsed.downloadExpiresAt) {
    parseAdapterInput(notificationMessageSchema.extend({ downloadExpiresAt: z.date() }), message, 'notification');
  }
  return parsed;
}

export interface RenderedNotification {
  subject: string;
  text: string;
}

function erasureWord(message: NotificationMessage): string {
  return message.requestType === 'anonymize' ? 'anonymization' : message.requestType === 'delete' ? 'deletion' : 'erasure';
}

/**
 * The admin-facing wording, following the product's seeds ("Personal data export for <name> is ready",
 * "Data export failed. Please retry"). The display name appears here and nowhere else.
 */
export function renderNotification(message: NotificationMessage): RenderedNotification {
  const name = message.subjectDisplayName?.trim() || 'the data subject';
  const ref = `Request ${message.requestId}.`;
  switch (message.kind) {
    case 'export-ready': {
      const expiry = message.downloadExpiresAt!.toISOString();
      return {
        subject: `Personal data export for ${name} is ready`,
        text: `Personal data export for ${name} is ready.\nThe download link is available until ${expiry}.\n${ref}\n`,
      };
    }
    case 'export-failed':
      return { subject: 'Data export failed. Please retry', text: `Data export failed. Please retry.\nThe export for ${name} did not complete.\n${ref}\n` };
    case 'erasure-completed': {
      const word = erasureWord(message);
      return {
        subject: `Personal data ${word} for ${name} is complete`,
        text: `Personal data ${word} for ${name} is complete.\nIt can be restored until the recovery window closes.\n${ref}\n`,
      };
    }
    case 'erasure-failed': {
      const word = erasureWord(message);
      const title = word[0].toUpperCase() + word.slice(1);
      return { subject: `Data ${word} failed. Please retry`, text: `${title} of personal data for ${name} failed. Please retry.\n${ref}\n` };
    }
  }
}
