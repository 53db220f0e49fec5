/**
 * Configuration of the `privacy-engine` CLI for the example CRM (test/fixtures/crm.ts), on SQLite in memory:
 *
 *   cd examples && npx privacy-engine check
 *
 * A real configuration points at your database and entities; see docs/cli.md.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { Contact, crmEntities } from '../test/fixtures/crm.js';

export default {
  dataSource: new DataSource({ type: 'better-sqlite3', database: ':memory:', entities: crmEntities, synchronize: true }),
  subject: Contact,
  tenantColumn: 'organizationId',
  // Example only: a real secret comes from the environment or a key manager.
  secret: process.env.PRIVACY_SECRET ?? 'example-crm-Zq8vN3kT6wR1pL5xH9mB2cJ7fD4sG0yA',
};
