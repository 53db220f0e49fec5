import { erasureEngineCase } from './erasure-engine.js';

/** engine.anonymize end to end: batches of redaction with the originals sealed in the vault, then verification. */
export const anonymizeEngine = erasureEngineCase('anonymize');
