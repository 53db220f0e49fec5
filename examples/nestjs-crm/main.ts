/**
 * The example CRM on NestJS:   npm run example:nest     (PORT=3001 by default; DATABASE_URL=postgres://... for PostgreSQL)
 *
 * Nest injects constructor parameters by their types, read from decorator metadata, which tsx/esbuild does not
 * emit: `npm run example:nest` compiles with SWC instead (swc-register.mjs).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource, DataSourceOptions } from 'typeorm';
import type { Request } from 'express';
import { seed } from '../express-crm/seed.js';
import { actorOf, createSessions } from '../express-crm/session.js';
import { createCrmModule } from './app.module.js';

/** SQLite in memory by default; SQLITE_FILE for a file; DATABASE_URL (postgres://, mysql://, mariadb://) for a server. */
function databaseFromEnv(env: NodeJS.ProcessEnv = process.env): DataSourceOptions {
  const url = env.DATABASE_URL;
  if (url) {
    const scheme = url.slice(0, url.indexOf(':'));
    if (scheme === 'postgres' || scheme === 'postgresql') return { type: 'postgres', url };
    if (scheme === 'mysql' || scheme === 'mariadb') return { type: scheme, url, timezone: 'Z', supportBigNumbers: true, bigNumberStrings: true };
    throw new Error(`DATABASE_URL: unsupported scheme '${scheme}' (use postgres://, mysql:// or mariadb://)`);
  }
  return { type: 'better-sqlite3', database: env.SQLITE_FILE || ':memory:' };
}

const database = databaseFromEnv();
const sessionSecret = process.env.SESSION_SECRET ?? randomBytes(32).toString('hex');
const app = await NestFactory.create(
  createCrmModule({ database, sessionSecret, secret: process.env.PRIVACY_SECRET ?? 'example-nestjs-crm-demo-secret-do-not-use-in-production-0123' }),
  { logger: ['error', 'warn'] },
);
// The host's authentication: here a signed cookie; with Passport, its session or guard sets request.user the same way.
const sessions = createSessions(sessionSecret);
app.use((req: Request & { user?: unknown }, _res: unknown, next: () => void) => {
  req.user = actorOf(sessions.read(req));
  next();
});
app.enableShutdownHooks(); // Ctrl-C / SIGTERM: app.close(), which stops the engine after its running requests
await app.init();
await seed(app.get<DataSource>(getDataSourceToken()));

const port = Number(process.env.PORT ?? 3001);
await app.listen(port);
const url = (await app.getUrl()).replace('[::1]', 'localhost').replace('127.0.0.1', 'localhost');
const where = database.type === 'better-sqlite3' ? `SQLite ${database.database === ':memory:' ? 'in memory' : database.database}` : database.type;
console.log(`Example CRM (NestJS) on ${where}: ${url}/`);
console.log(`  sign in as Alice Martin (admin) and open ${url}/privacy/dashboard`);
