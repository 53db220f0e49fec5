/**
 * Conformance suites for adapters, published for hosts who write their own.
 * The storage suite runs against any StoragePort with the test functions of your runner.
 */
export { storageConformance, type ConformanceRunner } from './storage-conformance.js';
