import path from 'node:path';
import { DefaultJobQueuePlugin, dummyPaymentHandler, type VendureConfig } from '@vendure/core';
import { PrivacyPlugin } from './plugin/privacy.plugin';

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;

/** Where the example keeps what is not in the database: export archives (encrypted) and the worker's files. */
export const dataDirectory = path.resolve(env('VENDURE_DATA_DIR', path.join(__dirname, '..', '..', '.data')));

/**
 * A plain Vendure server on PostgreSQL with the privacy plugin. Everything the example needs to differ between a
 * developer's machine and CI comes from the environment.
 */
export const config: VendureConfig = {
  apiOptions: {
    hostname: '127.0.0.1',
    port: Number(env('PORT', '3055')),
    adminApiPath: 'admin-api',
    shopApiPath: 'shop-api',
  },
  authOptions: {
    // Bearer tokens keep the test scripts free of cookie handling; verification is off so that a registered
    // customer can sign in at once (the test checks sign-in before and after erasure).
    tokenMethod: 'bearer',
    requireVerification: false,
    superadminCredentials: { identifier: 'superadmin', password: env('SUPERADMIN_PASSWORD', 'superadmin') },
    cookieOptions: { secret: env('COOKIE_SECRET', 'vendure-example-cookie-secret') },
  },
  dbConnectionOptions: {
    type: 'postgres',
    host: env('DB_HOST', '127.0.0.1'),
    port: Number(env('DB_PORT', '5432')),
    username: env('DB_USER', 'postgres'),
    password: env('DB_PASSWORD', ''),
    database: env('DB_NAME', 'vendure_privacy_example'),
    // The example creates its schema once (scripts/setup-db) and then runs server and worker without
    // synchronizing, as a production Vendure does with migrations.
    synchronize: process.env.DB_SYNCHRONIZE === 'true',
    logging: false,
  },
  paymentOptions: {
    paymentMethodHandlers: [dummyPaymentHandler],
  },
  plugins: [
    DefaultJobQueuePlugin.init({ pollInterval: 200 }),
    PrivacyPlugin.init({
      secret: env('PRIVACY_SECRET', 'example-only-secret-change-me-0123456789abcdef'),
      storageDirectory: path.join(dataDirectory, 'privacy-exports'),
    }),
  ],
};
