import { Address, type EntityMetadataModifier, Order } from '@vendure/core';
import { Index } from 'typeorm';
import type { MetadataArgsStorage } from 'typeorm/metadata-args/MetadataArgsStorage';

/** @vendure/core does not export the history entry classes: find one through a relation it declares. */
function relationOf(metadata: MetadataArgsStorage, entity: string, property: string) {
  return metadata.relations.find((r) => typeof r.target === 'function' && r.target.name === entity && r.propertyName === property);
}

/**
 * privacy-engine reads a customer's rows in keyset pages over (link column, primary key), and warns at start-up
 * (MISSING_KEYSET_INDEX) where no index starts with those columns. Vendure's classes cannot be edited, but its
 * entity metadata modifiers run before the schema is built: synchronize creates these indexes, and a generated
 * migration (`npx vendure migrate`) adds them to an existing database.
 */
export const addKeysetIndexes: EntityMetadataModifier = (metadata) => {
  Index(['customer', 'id'])(Address);
  Index(['customer', 'id'])(Order);
  const history = relationOf(metadata, 'CustomerHistoryEntry', 'customer');
  if (history) Index(['customer', 'id'])(history.target as Function);
};

/**
 * Vendure declares CustomerHistoryEntry.customer ON DELETE CASCADE. privacy-engine refuses that for a subject it may
 * remove (a purge removes a deleted customer's row where nothing still points at it): the database would delete
 * history entries that no restore could bring back. Vendure itself never removes a customer row (deleteCustomer
 * only sets deletedAt), so RESTRICT changes nothing for Vendure; a purge then empties such a customer's row
 * instead of removing it.
 */
export const restrictCustomerHistoryDeletes: EntityMetadataModifier = (metadata) => {
  const history = relationOf(metadata, 'CustomerHistoryEntry', 'customer');
  if (history) Object.assign(history.options, { onDelete: 'RESTRICT' });
};
