import type { NotifierPort } from '../ports/notifier.js';
import { parseNotification } from '../notifications/messages.js';

/** The part of a logger the notifier writes to (the engine's Logger fits). */
export interface NotifierLogger {
  info(message: string, fields?: Record<string, unknown>): void;
}

export interface LogNotifierOptions {
  /** Defaults to console.info. */
  logger?: NotifierLogger;
}

const consoleInfo: NotifierLogger = { info: (message, fields) => console.info(`[privacy-engine] ${message}`, fields ?? '') };

/**
 * The embedded default: one log line per notification. It names the kind and the request only: no display name,
 * no recipient address (both are personal data, and logs travel further than mail).
 */
export function createLogNotifier(options: LogNotifierOptions = {}): NotifierPort {
  const logger = options.logger ?? consoleInfo;
  return {
    name: 'log',
    async notify(input) {
      const message = parseNotification(input);
      logger.info(`notification ${message.kind}`, {
        kind: message.kind,
        requestId: message.requestId,
        ...(message.requestType ? { requestType: message.requestType } : {}),
        ...(message.downloadExpiresAt ? { downloadExpiresAt: message.downloadExpiresAt.toISOString() } : {}),
        recipients: message.recipients.length,
      });
    },
    async close() {},
  };
}
