import { erasureEngineCase } from './erasure-engine.js';

/** engine.delete end to end: every table soft-deleted batch by batch, keys sealed in the vault for restore. */
export const deleteEngine = erasureEngineCase('delete');
