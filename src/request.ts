/** The public shape of a data-subject request; every field is PII-free. Times are ISO 8601 strings. */
export type RequestType = 'export' | 'anonymize' | 'delete' | 'restore' | 'purge';
export type RequestStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export type Regulation = 'gdpr' | 'ccpa';

export interface ReviewItem {
  /** What could not be processed (entity and record id, or provider name). */
  item: string;
  reason: string;
}

export interface PrivacyRequest {
  id: string;
  type: RequestType;
  status: RequestStatus;
  subject: { type: string; id: string; tenantId: string | null };
  /** Id of the actor who asked. */
  requestedBy: string;
  regulation: Regulation;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** The legal deadline: 30 days (GDPR) or 45 days (CCPA) after createdAt, unless configured otherwise. */
  dueAt: string;
  progress: { done: number; total: number; percent: number };
  /** Estimated completion while running. */
  eta?: string;
  warnings: string[];
  review: ReviewItem[];
  error?: { code: string; message: string };
  /** Extensions of the legal deadline (GDPR Art. 12(3), CCPA §1798.130), oldest first; dueAt includes them. */
  deadlineExtensions?: DeadlineExtension[];
  outcome?: ExportOutcome | Record<string, unknown>;
}

export interface DeadlineExtension {
  days: number;
  /** Why, as the actor gave it (shown to the subject if the host forwards it; keep personal data out). */
  reason: string;
  by: string;
  at: string;
}

export interface ExportOutcome {
  counts: Record<string, number>;
  artifact: ExportArtifact;
}

/**
 * The archive of an export as admins see it: `pending` while the export runs, `ready` once stored (encrypted),
 * `downloaded` after the first download (when and by whom), `expired` once past its date or deleted (`deletedReason`).
 */
export interface ExportArtifact {
  status: 'pending' | 'ready' | 'downloaded' | 'expired';
  key: string;
  fileName: string;
  /** Size of the ZIP a download yields; `storedSize` is the encrypted file's. */
  size: number;
  storedSize?: number;
  encrypted?: boolean;
  expiresAt: string;
  downloadedAt?: string;
  /** Id of the actor of the first download. */
  downloadedBy?: string;
  deletedAt?: string;
  deletedReason?: 'expired' | 'erasure';
}

export const TERMINAL_STATUSES: readonly RequestStatus[] = ['completed', 'failed', 'cancelled'];

/** Warning codes a request may carry, with the sentence shown to people. */
export const WARNING_MESSAGES = {
  'subject-anonymized': 'This contact has been anonymized. Exported data will reflect anonymized values',
  'subject-deleted': 'This contact has been deleted. The export holds what is kept until the recovery window ends',
  'purged-before-window-end': 'The recovery data was destroyed before the recovery window ended (force: true)',
} as const;
