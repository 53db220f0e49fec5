/**
 * The example CRM as a Nest application: TypeORM through @nestjs/typeorm, the privacy engine through PrivacyModule
 * (its endpoints and dashboard at /privacy), and the CRM's own controller, which injects the engine.
 */
import { Module } from '@nestjs/common';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import os from 'node:os';
import path from 'node:path';
import type { DataSourceOptions } from 'typeorm';
// A host imports these from the package: 'privacy-engine' and 'privacy-engine/nestjs'.
import { type Logger, createLocalStorage } from '../../src/index.js';
import { PrivacyModule } from '../../src/http/nestjs.js';
import { ContactNames, ContactNamesModule } from './contact-names.js';
import { CrmController } from './crm.controller.js';
// The Express example's schema, seed and sign-in: the same CRM, served by Nest.
import { CRM_ENTITIES, Contact } from '../express-crm/entities.js';
import { createSessions } from '../express-crm/session.js';
import { SESSIONS } from './crm.controller.js';

export interface CrmOptions {
  database: DataSourceOptions;
  /** The engine's secret (>= 32 characters). */
  secret: string;
  /** Signs the login cookie. */
  sessionSecret: string;
  /** Where export archives are stored (encrypted). */
  storageDirectory?: string;
  logger?: Logger;
}

export function createCrmModule(options: CrmOptions) {
  @Module({
    imports: [
      TypeOrmModule.forRoot({ ...options.database, entities: CRM_ENTITIES, synchronize: true, retryAttempts: 0 } as TypeOrmModuleOptions),
      TypeOrmModule.forFeature([Contact]),
      // The DataSource comes from TypeOrmModule.forRoot() above; the factory's dependencies from its imports.
      PrivacyModule.forRootAsync({
        imports: [ContactNamesModule],
        inject: [ContactNames],
        useFactory: (names: ContactNames) => ({
          subject: Contact,
          tenantColumn: 'organizationId',
          secret: options.secret,
          storage: createLocalStorage({ directory: options.storageDirectory ?? path.join(os.tmpdir(), 'privacy-engine-example-nestjs-crm') }),
          ...(options.logger ? { logger: options.logger } : {}),
          // No getActor: the actor is request.user, which the session middleware (main.ts) sets, as Passport would.
          http: { describeSubject: (subject) => names.describe(subject) },
        }),
        http: { path: 'privacy' },
      }),
    ],
    controllers: [CrmController],
    providers: [{ provide: SESSIONS, useValue: createSessions(options.sessionSecret) }],
  })
  class CrmModule {}
  return CrmModule;
}
