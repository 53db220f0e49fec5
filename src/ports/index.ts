export type { ClockPort } from './clock.js';
export type { StoragePort, StoredObjectInfo } from './storage.js';
export type { QueuePort, QueueJob, QueueHandler } from './queue.js';
export type { KeysPort } from './keys.js';
export type { AuditPort, AuditEntry, AuditRecord, AuditHead, AuditSubject } from './audit.js';
