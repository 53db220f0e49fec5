/**
 * Conformance suites for adapters, published for hosts who write their own.
 * Each suite runs against any adapter of its port with the test functions of your runner.
 */
export { storageConformance, type ConformanceRunner, type StorageConformanceOptions } from './storage-conformance.js';
export { auditConformance, type AuditTamper, type AuditUnderTest } from './audit-conformance.js';
export { queueConformance, type QueueFactory } from './queue-conformance.js';
export { notifierConformance, type NotifierUnderTest } from './notifier-conformance.js';
