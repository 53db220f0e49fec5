import { Address, type EntityMetadataModifier, Order } from '@vendure/core';
import { Index } from 'typeorm';

/**
 * privacy-engine reads a customer's rows in keyset pages over (link column, primary key), and warns at start-up
 * (MISSING_KEYSET_INDEX) where no index starts with those columns. Vendure's classes cannot be edited, but
 * Vendure's entity metadata modifiers can add indexes to them before the schema is built: synchronize creates
 * them, and `vendure migrate` writes them into a migration.
 */
export const addKeysetIndexes: EntityMetadataModifier = (metadata) => {
  Index(['customer', 'id'])(Address);
  Index(['customer', 'id'])(Order);
  // @vendure/core does not export CustomerHistoryEntry: find the class through the relation it declares.
  const historyEntry = metadata.relations.find((r) => typeof r.target === 'function' && r.target.name === 'CustomerHistoryEntry' && r.propertyName === 'customer');
  if (historyEntry) Index(['customer', 'id'])(historyEntry.target as Function);
};
