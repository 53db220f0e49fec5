/**
 * `privacy-engine/nestjs`: the engine as a NestJS provider, started and stopped with the application, and an
 * optional controller that serves the HTTP endpoints and dashboard of `privacy-engine/express` through the same
 * framework-neutral core (one mapping of requests, errors and authorization for both).
 */
import {
  All,
  type BeforeApplicationShutdown,
  type CanActivate,
  Controller,
  type DynamicModule,
  type FactoryProvider,
  Inject,
  Injectable,
  type InjectionToken,
  type ModuleMetadata,
  type OnApplicationBootstrap,
  type OnModuleInit,
  type Provider,
  Req,
  Res,
  type Type,
  UseGuards,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { PrivacyEngine } from '../engine/privacy-engine.js';
import { type PrivacyEngineOptions, parseInput } from '../engine/options.js';
import type { Actor } from '../engine/policy.js';
import { ValidationError } from '../errors.js';
import { type PrivacyHttpHandler, type PrivacyHttpOptions, createPrivacyHttpHandler } from './core.js';
import { fromNodeRequest, sendNodeResponse } from './node.js';

export { PrivacyEngine };
export type { Actor, PrivacyHttpOptions };

/** The request a Nest application on Express hands to controllers (Express's Request, kept structural here). */
export type NestHttpRequest = IncomingMessage & {
  originalUrl?: string;
  params?: Record<string, unknown>;
  secure?: boolean;
  user?: unknown;
  rawBody?: Buffer;
};

/** The endpoints and dashboard of `privacy-engine/express`, served by a controller of the module. */
export interface PrivacyModuleHttpOptions extends Omit<PrivacyHttpOptions<NestHttpRequest>, 'getActor'> {
  /**
   * Who is calling. Default: `request.user` (what Passport and most auth guards set), read as an Actor:
   * `{ id, roles?, tenantId?, subjectId? }` (a numeric id is turned into a string; other fields are ignored).
   */
  getActor?: PrivacyHttpOptions<NestHttpRequest>['getActor'];
}

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
  /** The HTTP endpoints' options (the path is set where the module is declared: `http: { path }`). */
  http?: PrivacyModuleHttpOptions;
}

/** `new PrivacyEngine()` options, with the DataSource optional (taken from `@nestjs/typeorm` by default). */
export type PrivacyModuleEngineOptions = Omit<PrivacyEngineOptions, 'dataSource'> & PrivacyModuleExtras;

/**
 * An engine the host built itself (shared with a CLI or a script, say). The module provides it and serves `http`
 * with it, but does not start or stop it: whoever made it does.
 */
export interface PrivacyModuleExistingEngine {
  engine: PrivacyEngine;
  http?: PrivacyModuleHttpOptions;
}

export type PrivacyModuleOptions = PrivacyModuleEngineOptions | PrivacyModuleExistingEngine;

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

/** Where the controller is mounted, and the guards in front of it; set when the module is declared. */
export interface PrivacyModuleRoute {
  /** The controller's path ('privacy' serves `/privacy/requests`, `/privacy/dashboard`…), below any global prefix. */
  path: string;
  /** Guards run before every endpoint (an AuthGuard that sets `request.user`, say); global guards apply too. */
  guards?: Array<Type<CanActivate> | CanActivate>;
}

/** forRoot: the engine's options (or an engine), the module's, and `http` with the mount path when the endpoints are wanted. */
export type PrivacyModuleRootOptions = (Omit<PrivacyModuleEngineOptions, 'http'> | Omit<PrivacyModuleExistingEngine, 'http'>) &
  PrivacyModuleStaticOptions & { http?: PrivacyModuleHttpOptions & PrivacyModuleRoute };

export interface PrivacyModuleAsyncOptions extends PrivacyModuleStaticOptions {
  /** Serves the endpoints under this path; their other options come from the factory's `http`. */
  http?: PrivacyModuleRoute;
  imports?: ModuleMetadata['imports'];
  inject?: FactoryProvider['inject'];
  useFactory: (...args: any[]) => PrivacyModuleOptions | Promise<PrivacyModuleOptions>;
}

/** The options the module resolved, injectable under this token (for tests and host code that needs them). */
export const PRIVACY_MODULE_OPTIONS = Symbol.for('privacy-engine:nestjs:options');

const injectionToken = z.custom<InjectionToken>((v) => typeof v === 'string' || typeof v === 'symbol' || typeof v === 'function', {
  message: 'must be a string, symbol or class',
});

const routeSchema = z.object({
  // Literal segments only: a route pattern (':id', '*') or a dot segment would change what the catch-all matches.
  path: z
    .string()
    .max(200)
    .regex(/^\/?[A-Za-z0-9_~-][A-Za-z0-9._~-]*(\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*\/?$/, 'a plain URL path: segments of letters, digits, ".", "_", "~", "-", separated by "/"'),
  guards: z.array(z.custom<Type<CanActivate> | CanActivate>((g) => typeof g === 'function' || (typeof g === 'object' && g !== null && typeof (g as CanActivate).canActivate === 'function'), {
    message: 'must be a guard class or instance',
  })).default([]),
});

const staticOptionsSchema = z.object({ dataSourceToken: injectionToken.optional(), isGlobal: z.boolean().default(true), http: routeSchema.optional() });

const existingEngineSchema = z.strictObject({
  engine: z.instanceof(PrivacyEngine, { message: 'must be a PrivacyEngine' }),
  http: z.object({}).loose().optional(),
});

/** Validates the module's own options; the engine's are validated by `new PrivacyEngine()`. */
function parseModuleOptions<T extends PrivacyModuleOptions>(options: T, what: string): T {
  if (typeof options === 'object' && options !== null && 'engine' in options) return { ...options, ...parseInput(existingEngineSchema, options, what) };
  return { ...options, ...parseInput(extrasSchema, options, what) };
}

const extrasSchema = z.object({
  dataSource: z.custom<DataSource>((v) => typeof v === 'object' && v !== null && typeof (v as DataSource).query === 'function' && 'driver' in (v as object), {
    message: 'must be a TypeORM DataSource',
  }).optional(),
  interruptOnShutdown: z.boolean().default(false),
  http: z.object({ getActor: z.custom<PrivacyModuleHttpOptions['getActor']>((v) => typeof v === 'function', { message: 'must be a function' }).optional() }).loose().optional(),
});

const asyncOptionsSchema = staticOptionsSchema.extend({
  imports: z.array(z.unknown()).optional(),
  inject: z.array(z.unknown()).optional(),
  useFactory: z.custom<PrivacyModuleAsyncOptions['useFactory']>((v) => typeof v === 'function', { message: 'must be a function' }),
});

const isExisting = (options: PrivacyModuleOptions): options is PrivacyModuleExistingEngine => (options as { engine?: unknown }).engine !== undefined;

/** Builds the engine from the module options and the DataSource found under the token (if any). */
function createEngine(options: PrivacyModuleOptions, injected: DataSource | undefined): PrivacyEngine {
  if (isExisting(options)) return options.engine;
  const { dataSource, interruptOnShutdown: _interrupt, http: _http, ...engineOptions } = options;
  void _interrupt;
  void _http;
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
    if (!isExisting(this.options)) await this.engine.start();
  }

  // Before, not on, shutdown: @nestjs/typeorm destroys the DataSource in its onApplicationShutdown.
  async beforeApplicationShutdown(): Promise<void> {
    if (!isExisting(this.options)) await this.engine.stop({ interrupt: this.options.interruptOnShutdown === true });
  }
}

/** Passport's `request.user` (or any guard's) as an Actor; undefined (401) when there is none. */
function actorFromUser(req: NestHttpRequest): Actor | undefined {
  const user = req.user as { id?: unknown; roles?: unknown; tenantId?: unknown; subjectId?: unknown } | undefined | null;
  if (typeof user !== 'object' || user === null) return undefined;
  const id = typeof user.id === 'number' ? String(user.id) : user.id;
  if (typeof id !== 'string' || id === '') return undefined;
  return {
    id,
    roles: Array.isArray(user.roles) ? user.roles : [],
    ...(user.tenantId === undefined || user.tenantId === null ? {} : { tenantId: user.tenantId as string }),
    ...(user.subjectId === undefined || user.subjectId === null ? {} : { subjectId: user.subjectId as string | number }),
  };
}

/** The handler every endpoint goes through, built from the engine and the module's `http` options. */
const PRIVACY_HTTP_HANDLER = Symbol.for('privacy-engine:nestjs:http-handler');
/** The controller's route options (path, guards). */
const PRIVACY_ROUTE = Symbol.for('privacy-engine:nestjs:route');

function createHandler(engine: PrivacyEngine, options: PrivacyModuleOptions): PrivacyHttpHandler<NestHttpRequest> {
  const { getActor, ...rest } = options.http ?? {};
  return createPrivacyHttpHandler<NestHttpRequest>(engine, { ...rest, getActor: getActor ?? actorFromUser });
}

/**
 * The URL below the mount point and the mount point itself, from the raw URL and the number of segments the
 * catch-all matched (so a global prefix or a version segment in front of the controller's path needs no setting).
 */
function splitAtMount(req: NestHttpRequest): { url: string; mountPath: string } {
  const original = req.originalUrl ?? req.url ?? '/';
  const q = original.indexOf('?');
  const pathname = q >= 0 ? original.slice(0, q) : original;
  const search = q >= 0 ? original.slice(q) : '';
  // Express 5 gives the catch-all as an array of segments, a trailing '' included for a trailing slash.
  const matched = req.params?.path;
  const below = Array.isArray(matched) ? matched.length : 0;
  if (below === 0) return { url: `/${search}`, mountPath: pathname.length > 1 ? pathname.replace(/\/$/, '') : '' };
  const segments = pathname.split('/');
  return { url: `/${segments.slice(-below).join('/')}${search}`, mountPath: segments.slice(0, -below).join('/') };
}

/** The catch-all's name in the route (`<path>/*path`). */
const CATCH_ALL = '*path';
/** Express's body parsers, by the names Nest (and express.json() & co.) give them. */
const BODY_PARSERS = new Set(['jsonParser', 'urlencodedParser', 'textParser', 'rawParser']);

interface ExpressLayer {
  handle?: ((req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => unknown) & { name: string };
  route?: { path?: unknown };
  match?: (path: string) => unknown;
}

/**
 * Lets the core see requests under the privacy path as the Express router does, whatever the application put in
 * front of its controllers: Nest's global body parsers skip them (the core reads the body itself, with its own
 * limit, content-type check and JSON errors), and the catch-all route matches a malformed percent-encoding (the core
 * answers it with its 400) instead of Express failing the route. Needs Nest on Express (platform-express), whose
 * router internals (`app.router.stack`: a layer's `handle`, `route`, `match`) Nest itself reads; on any other
 * platform, or if they change, nothing is patched and Nest's own parsers and errors apply.
 */
@Injectable()
class PrivacyExpressRouting implements OnModuleInit {
  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(PRIVACY_ROUTE) private readonly route: z.output<typeof routeSchema>,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost?.httpAdapter;
    if (!adapter || adapter.getType?.() !== 'express') return;
    const stack = (adapter.getInstance() as { router?: { stack?: ExpressLayer[] } }).router?.stack;
    if (!Array.isArray(stack)) return;
    const own = `/${this.route.path.replace(/^\/+|\/+$/g, '')}`;
    // This controller's routes: `<prefix>/<path>/*path` (the prefix: global prefix, version) and `<prefix>/<path>`.
    const routePath = (layer: ExpressLayer) => (typeof layer.route?.path === 'string' && typeof layer.match === 'function' ? layer.route.path : undefined);
    const mounts = new Set<string>();
    for (const layer of stack) {
      const path = routePath(layer);
      if (path?.endsWith(`${own}/${CATCH_ALL}`)) mounts.add(path.slice(0, -CATCH_ALL.length - 1));
    }
    for (const layer of stack) {
      const path = routePath(layer);
      const ours = path !== undefined && (mounts.has(path) || (path.endsWith(`/${CATCH_ALL}`) && mounts.has(path.slice(0, -CATCH_ALL.length - 1))));
      if (!ours) continue;
      // Escaped, a '%' can never fail decoding; the controller reads the path from originalUrl, untouched.
      const match = layer.match!.bind(layer);
      layer.match = (requestPath: string) => match(typeof requestPath === 'string' ? requestPath.replace(/%/g, '%25') : requestPath);
    }
    if (mounts.size === 0) return;
    const isMounted = (req: IncomingMessage) => {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const pathname = (q >= 0 ? url.slice(0, q) : url).toLowerCase();
      for (const mount of mounts) {
        const lower = mount.toLowerCase();
        if (pathname === lower || pathname.startsWith(`${lower}/`)) return true;
      }
      return false;
    };
    for (const layer of stack) {
      const parser = layer.handle;
      if (!parser || !BODY_PARSERS.has(parser.name)) continue;
      // The same name, so Nest's isMiddlewareApplied() still finds it.
      const skipping = { [parser.name]: (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => (isMounted(req) ? next() : parser(req, res, next)) }[parser.name];
      layer.handle = skipping as ExpressLayer['handle'];
    }
  }
}

/** One catch-all route hands every request under the path to the framework-neutral core, which does all the mapping. */
function privacyControllerAt(route: z.output<typeof routeSchema>): Type<unknown> {
  @Controller(route.path)
  class PrivacyController {
    constructor(@Inject(PRIVACY_HTTP_HANDLER) private readonly handler: PrivacyHttpHandler<NestHttpRequest>) {}

    @All(['', '*path'])
    async handle(@Req() req: NestHttpRequest, @Res() res: ServerResponse): Promise<void> {
      // The body is unread (the module keeps Nest's parsers off this path); were it parsed, fromNodeRequest takes
      // the bytes Nest kept (rawBody: true) or the parsed value.
      const request = fromNodeRequest(req, { ...splitAtMount(req), secure: req.secure === true });
      await sendNodeResponse(res, await this.handler.handle(request));
    }
  }
  if (route.guards.length > 0) UseGuards(...route.guards)(PrivacyController);
  return PrivacyController;
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
  const http: Provider[] = statics.http
    ? [{ provide: PRIVACY_HTTP_HANDLER, useFactory: createHandler, inject: [PrivacyEngine, PRIVACY_MODULE_OPTIONS] }, { provide: PRIVACY_ROUTE, useValue: statics.http }, PrivacyExpressRouting]
    : [];
  return {
    module: PrivacyModule,
    global: statics.isGlobal,
    imports,
    controllers: statics.http ? [privacyControllerAt(statics.http)] : [],
    providers: [optionsProvider, engineProvider, PrivacyEngineLifecycle, ...http],
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
  static forRoot(options: PrivacyModuleRootOptions): DynamicModule {
    const { dataSourceToken, isGlobal, http, ...rest } = options;
    const route = http ? { path: http.path, guards: http.guards } : undefined;
    const statics = parseInput(staticOptionsSchema, { dataSourceToken, isGlobal, http: route }, 'PrivacyModule options');
    const endpoints = http ? (({ path: _path, guards: _guards, ...handlerOptions }) => handlerOptions)(http) : undefined;
    const withHttp = { ...rest, ...(endpoints ? { http: endpoints } : {}) };
    const moduleOptions = parseModuleOptions(withHttp as PrivacyModuleOptions, 'PrivacyModule options');
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
          return parseModuleOptions(await useFactory(...args), 'PrivacyModule options (from useFactory)');
        },
      },
      options.imports,
    );
  }
}
