/** What happened to a request, from the admin's point of view. */
export type NotificationKind = 'export-ready' | 'export-failed' | 'erasure-completed' | 'erasure-failed';

/**
 * One message to the admins of a request. The subject's display name is its only personal field, and it is meant
 * for the admins' eyes only: adapters put it in the mail or the webhook body, never in a log line.
 */
export interface NotificationMessage {
  kind: NotificationKind;
  requestId: string;
  /** The erasure that completed or failed ('anonymize' or 'delete'); for exports, 'export'. */
  requestType?: 'export' | 'anonymize' | 'delete';
  /** As the `@DataSubject` displayName renders it ("Ada Lovelace"). */
  subjectDisplayName?: string;
  /** When the download link stops working (`export-ready` only). */
  downloadExpiresAt?: Date;
  /** Admin addresses to tell (e-mail adapters send to them; the webhook passes them on). */
  recipients: string[];
  tenantId?: string | null;
}

/** Tells admins that a request finished or failed. Adapters throw an `AdapterError` when delivery fails. */
export interface NotifierPort {
  readonly name: string;
  notify(message: NotificationMessage): Promise<void>;
  close(): Promise<void>;
}
