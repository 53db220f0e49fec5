/**
 * Creates a fresh PostgreSQL database for the example, lets Vendure create its schema (synchronize) and loads
 * Vendure's initial data: a zone with two countries, a tax rate, a shipping method and a payment method.
 * Customers, products and orders come later, through the running server's GraphQL APIs (scripts/populate.ts).
 */
import { populate } from '@vendure/core/cli';
import { bootstrap, dummyPaymentHandler, LanguageCode } from '@vendure/core';
import { Client } from 'pg';

async function recreateDatabase(name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`DB_NAME must be a plain lower-case identifier, not ${JSON.stringify(name)}`);
  const admin = new Client({
    host: process.env.DB_HOST ?? '127.0.0.1',
    port: Number(process.env.DB_PORT ?? '5432'),
    user: process.env.DB_USER ?? 'postgres',
    password: process.env.DB_PASSWORD ?? '',
    database: 'postgres',
  });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
}

async function main(): Promise<void> {
  process.env.DB_NAME ??= 'vendure_privacy_example';
  process.env.DB_SYNCHRONIZE = 'true';
  await recreateDatabase(process.env.DB_NAME);
  // Imported after the environment is set: the config reads it when loaded.
  const { config } = await import('../src/vendure-config');
  const app = await populate(() => bootstrap(config), {
    defaultLanguage: LanguageCode.en,
    defaultZone: 'Europe',
    countries: [
      { name: 'Germany', code: 'DE', zone: 'Europe' },
      { name: 'France', code: 'FR', zone: 'Europe' },
      { name: 'United Kingdom', code: 'GB', zone: 'Europe' },
    ],
    taxRates: [{ name: 'Standard Tax', percentage: 19 }],
    shippingMethods: [{ name: 'Standard Shipping', price: 500 }],
    paymentMethods: [{ name: 'Card', handler: { code: dummyPaymentHandler.code, arguments: [{ name: 'automaticSettle', value: 'true' }] } }],
    collections: [],
  });
  await app.close();
  console.log(`setup-db: database ${process.env.DB_NAME} created with Vendure's schema and initial data`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
