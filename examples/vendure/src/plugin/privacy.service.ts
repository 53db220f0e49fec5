import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Customer, JobQueueService, Logger, ProcessContext, type RequestContext, TransactionalConnection } from '@vendure/core';
import { ADMIN_ROLE, type Actor, createLocalStorage, PrivacyEngine } from 'privacy-engine';
import { declareVendureDataMap } from './data-map';
import { loggerCtx, PRIVACY_PLUGIN_OPTIONS, type PrivacyPluginOptions } from './types';
import { VendureJobQueue } from './vendure-job-queue';

const fieldsText = (fields?: Record<string, unknown>): string => (fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '');

/**
 * Owns the PrivacyEngine of this Vendure process. Server and worker each start one on Vendure's own DataSource;
 * the server only asks for requests (its Vendure job queue is not started), the worker runs them.
 */
@Injectable()
export class PrivacyService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly queue = new VendureJobQueue();
  private engineInstance: PrivacyEngine | undefined;

  constructor(
    private readonly connection: TransactionalConnection,
    private readonly jobQueueService: JobQueueService,
    private readonly processContext: ProcessContext,
    @Inject(PRIVACY_PLUGIN_OPTIONS) private readonly options: PrivacyPluginOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.queue.register(this.jobQueueService);
  }

  async onApplicationBootstrap(): Promise<void> {
    declareVendureDataMap();
    const engine = new PrivacyEngine({
      dataSource: this.connection.rawConnection,
      subject: Customer,
      // A customer belongs to the channels it was created in or ordered from; every request is about one channel,
      // the one the admin works in, and a customer of another channel is "not found".
      tenantColumn: 'channels.code',
      secret: this.options.secret,
      storage: createLocalStorage({ directory: this.options.storageDirectory }),
      queue: this.queue,
      policy: this.options.recoveryWindowDays === undefined ? undefined : { recoveryWindowDays: this.options.recoveryWindowDays },
      logger: {
        info: (message, fields) => Logger.verbose(message + fieldsText(fields), loggerCtx),
        warn: (message, fields) => Logger.warn(message + fieldsText(fields), loggerCtx),
        error: (message, fields) => Logger.error(message + fieldsText(fields), loggerCtx),
      },
    });
    await engine.start();
    this.engineInstance = engine;
    Logger.info(`privacy engine started in the ${this.processContext.isWorker ? 'worker' : 'server'}`, loggerCtx);
  }

  async onApplicationShutdown(): Promise<void> {
    // A running request stops after its current batch and is resumed by the next worker to start.
    await this.engineInstance?.stop({ interrupt: true });
  }

  get engine(): PrivacyEngine {
    if (!this.engineInstance) throw new Error('The privacy engine has not started yet');
    return this.engineInstance;
  }

  /**
   * The engine's actor for a Vendure administrator. Vendure's resolvers have already checked the
   * ManagePersonalData permission, so every such administrator is an admin for the engine.
   */
  actorOf(ctx: RequestContext): Actor {
    return { id: `vendure-user:${String(ctx.activeUserId ?? 'unknown')}`, roles: [ADMIN_ROLE], tenantId: ctx.channel.code };
  }

  /** The tenant of a request asked for in this Vendure request: its channel. */
  tenantOf(ctx: RequestContext): string {
    return ctx.channel.code;
  }
}
