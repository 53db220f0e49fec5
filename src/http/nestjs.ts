/**
 * `privacy-engine/nestjs`: the engine as a NestJS provider, started and stopped with the application, and an
 * optional controller that serves the HTTP endpoints and dashboard of `privacy-engine/express` through the same
 * framework-neutral core (one mapping of requests, errors and authorization for both).
 */
import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  type FactoryProvider,
  Inject,
  Injectable,
  type InjectionToken,
  type ModuleMetadata,
  type OnApplicationBootstrap,
  type Provider,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { PrivacyEngine } from '../engine/privacy-engine.js';
import { type PrivacyEngineOptions, parseInput } from '../engine/options.js';
import { ValidationError } from '../errors.js';

export { PrivacyEngine };

/** What `PrivacyModule` adds to the engine's own options. */
export interface PrivacyModuleExtras {
  /**
   * The DataSource to run on. Default: the one `@nestjs/typeorm` provides under `dataSourceToken`
   * (`TypeOrmModule.forRoot()` must then be imported by the application).
   */
  dataSource?: DataSource;
  /**
   * Stop the engine on shutdown with `interrupt: true`: running requests stop after their current batch and are
   * resumed by the next start (or another worker) instead of being waited for. Default false: they finish.
   */
  interruptOnShutdown?: boolean;
}

/** `new PrivacyEngine()` options, with the DataSource optional (taken from `@nestjs/typeorm` by default). */
export type PrivacyModuleOptions = Omit<PrivacyEngineOptions, 'dataSource'> & PrivacyModuleExtras;

/** Options known when the module is declared, not computed by a factory. */
export interface PrivacyModuleStaticOptions {
  /**
   * The injection token of the DataSource when none is passed: `getDataSourceToken(name)` from `@nestjs/typeorm`
   * for a named data source. Default: the default data source's token (`getDataSourceToken()`, which is TypeORM's
   * `DataSource` class).
   */
  dataSourceToken?: InjectionToken;
  /** Registers the module globally (default true), so any module can inject `PrivacyEngine`. */
  isGlobal?: boolean;
}

export interface PrivacyModuleAsyncOptions extends PrivacyModuleStaticOptions {
  imports?: ModuleMetadata['imports'];
  inject?: FactoryProvider['inject'];
  useFactory: (...args: any[]) => PrivacyModuleOptions | Promise<PrivacyModuleOptions>;
}

/** The options the module resolved, injectable under this token (for tests and host code that needs them). */
export const PRIVACY_MODULE_OPTIONS = Symbol.for('privacy-engine:nestjs:options');

const injectionToken = z.custom<InjectionToken>((v) => typeof v === 'string' || typeof v === 'symbol' || typeof v === 'function', {
  message: 'must be a string, symbol or class',
});

const staticOptionsSchema = z.object({ dataSourceToken: injectionToken.optional(), isGlobal: z.boolean().default(true) });

const extrasSchema = z.object({
  dataSource: z.custom<DataSource>((v) => typeof v === 'object' && v !== null && typeof (v as DataSource).query === 'function' && 'driver' in (v as object), {
    message: 'must be a TypeORM DataSource',
  }).optional(),
  interruptOnShutdown: z.boolean().default(false),
});

const asyncOptionsSchema = staticOptionsSchema.extend({
  imports: z.array(z.unknown()).optional(),
  inject: z.array(z.unknown()).optional(),
  useFactory: z.custom<PrivacyModuleAsyncOptions['useFactory']>((v) => typeof v === 'function', { message: 'must be a function' }),
});

/** Builds the engine from the module options and the DataSource found under the token (if any). */
function createEngine(options: PrivacyModuleOptions, injected: DataSource | undefined): PrivacyEngine {
  const { dataSource, interruptOnShutdown: _interrupt, ...engineOptions } = options;
  void _interrupt;
  const chosen = dataSource ?? injected;
  if (!chosen) {
    throw new ValidationError('Invalid PrivacyModule options: dataSource is missing; import TypeOrmModule.forRoot() or pass dataSource', [
      { path: 'dataSource', message: 'no DataSource given and none provided by @nestjs/typeorm' },
    ]);
  }
  return new PrivacyEngine({ ...engineOptions, dataSource: chosen });
}

/** Starts the engine once every module is initialized, and drains it before the application shuts down. */
@Injectable()
class PrivacyEngineLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(PrivacyEngine) private readonly engine: PrivacyEngine,
    @Inject(PRIVACY_MODULE_OPTIONS) private readonly options: PrivacyModuleOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.engine.start();
  }

  // Before, not on, shutdown: @nestjs/typeorm destroys the DataSource in its onApplicationShutdown.
  async beforeApplicationShutdown(): Promise<void> {
    await this.engine.stop({ interrupt: this.options.interruptOnShutdown === true });
  }
}

function moduleOf(
  statics: z.output<typeof staticOptionsSchema>,
  optionsProvider: Provider,
  imports: ModuleMetadata['imports'] = [],
): DynamicModule {
  const engineProvider: FactoryProvider<PrivacyEngine> = {
    provide: PrivacyEngine,
    useFactory: createEngine,
    inject: [PRIVACY_MODULE_OPTIONS, { token: statics.dataSourceToken ?? DataSource, optional: true }],
  };
  return {
    module: PrivacyModule,
    global: statics.isGlobal,
    imports,
    providers: [optionsProvider, engineProvider, PrivacyEngineLifecycle],
    exports: [PrivacyEngine, PRIVACY_MODULE_OPTIONS],
  };
}

/**
 * ```ts
 * @Module({ imports: [TypeOrmModule.forRoot({ ... }), PrivacyModule.forRoot({ subject: Contact, secret })] })
 * class AppModule {}
 * // anywhere: constructor(private readonly privacy: PrivacyEngine) {}
 * ```
 */
export class PrivacyModule {
  static forRoot(options: PrivacyModuleOptions & PrivacyModuleStaticOptions): DynamicModule {
    const { dataSourceToken, isGlobal, ...rest } = options;
    const statics = parseInput(staticOptionsSchema, { dataSourceToken, isGlobal }, 'PrivacyModule options');
    const moduleOptions = { ...rest, ...parseInput(extrasSchema, rest, 'PrivacyModule options') };
    return moduleOf(statics, { provide: PRIVACY_MODULE_OPTIONS, useValue: moduleOptions });
  }

  static forRootAsync(options: PrivacyModuleAsyncOptions): DynamicModule {
    const parsed = parseInput(asyncOptionsSchema, options, 'PrivacyModule async options');
    const { useFactory } = options;
    return moduleOf(
      parsed,
      {
        provide: PRIVACY_MODULE_OPTIONS,
        inject: options.inject ?? [],
        useFactory: async (...args: unknown[]) => {
          const made = await useFactory(...args);
          return { ...made, ...parseInput(extrasSchema, made, 'PrivacyModule options (from useFactory)') };
        },
      },
      options.imports,
    );
  }
}
