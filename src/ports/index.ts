export type { ClockPort } from './clock.js';
export type { StoragePort, StoredObjectInfo } from './storage.js';
export type { QueuePort, QueueJob, QueueJobContext, QueueHandler } from './queue.js';
export type { NotifierPort, NotificationMessage, NotificationKind } from './notifier.js';
export type { KeysPort } from './keys.js';
export type { AuditPort, AuditEntry, AuditRecord, AuditHead, AuditSubject } from './audit.js';
