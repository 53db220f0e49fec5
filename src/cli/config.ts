import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { CoverageInput } from '../coverage/coverage.js';
import type { PrivacyEngineOptions } from '../engine/options.js';
import { ADMIN_ROLE, type Actor, actorSchema } from '../engine/policy.js';
import { PrivacyEngine } from '../engine/privacy-engine.js';
import { ValidationError } from '../errors.js';
import type { QueuePort } from '../ports/queue.js';

/**
 * What `privacy.config.ts` (or .mts, .js, .mjs, .cjs) exports as default: the engine options (with the DataSource),
 * plus what the CLI needs besides. A function (sync or async) returning it is accepted too.
 */
export interface PrivacyConfig extends PrivacyEngineOptions {
  /** Who the CLI acts as; defaults to `cli:<os user>` with the admin role. */
  actor?: Actor;
  /** Options of `privacy-engine check`: the allow-list of entities / columns holding no personal data, sampling. */
  coverage?: CoverageInput;
}

export const CONFIG_FILES = ['privacy.config.ts', 'privacy.config.mts', 'privacy.config.js', 'privacy.config.mjs', 'privacy.config.cjs'];

/** Finds the configuration: the --config path, or the first CONFIG_FILES name in the working directory. */
export function findConfig(explicit: string | undefined, cwd = process.cwd()): string {
  if (explicit) {
    const file = path.resolve(cwd, explicit);
    if (!existsSync(file)) throw new ValidationError(`Configuration file not found: ${explicit}`, [{ path: 'config', message: 'not found' }]);
    return file;
  }
  for (const name of CONFIG_FILES) {
    const file = path.join(cwd, name);
    if (existsSync(file)) return file;
  }
  throw new ValidationError(`No configuration found: create ${CONFIG_FILES[0]} (or .js / .mjs) in ${cwd}, or pass --config <file>`, [
    { path: 'config', message: 'not found' },
  ]);
}

/** Loads the configuration; TypeScript through jiti, so hosts need no build step (decorators and their metadata included). */
export async function loadConfig(file: string): Promise<PrivacyConfig> {
  const { createJiti } = await import('jiti');
  const transform = decoratorTransform(file);
  const jiti = createJiti(pathToFileURL(file).href, { interopDefault: true, moduleCache: true, ...(transform ? { transform } : {}) });
  const loaded = (await jiti.import(file)) as unknown;
  let value = (loaded && typeof loaded === 'object' && 'default' in loaded ? (loaded as { default: unknown }).default : loaded) as unknown;
  if (typeof value === 'function') value = await (value as () => unknown)();
  if (!value || typeof value !== 'object') {
    throw new ValidationError(`${path.basename(file)} must export (as default) the engine options, or a function returning them`, [{ path: 'config', message: 'no default export' }]);
  }
  return value as PrivacyConfig;
}

type Transform = (opts: { source: string; filename?: string }) => { code: string; error?: unknown };

/**
 * TypeORM entities use TypeScript's legacy decorators with `field!: type` declarations and decorator metadata, which
 * jiti's own (Babel) transform refuses (unjs/jiti#367). When the host has TypeScript installed, its transpiler
 * compiles the configuration and everything it imports, exactly as tsc with experimentalDecorators would.
 */
function decoratorTransform(configFile: string): Transform | undefined {
  let ts: typeof import('typescript');
  try {
    ts = createRequire(configFile)('typescript');
  } catch {
    return undefined; // jiti's own transform: fine for configs and entities without decorators
  }
  return ({ source, filename }) => {
    const result = ts.transpileModule(source, {
      fileName: filename,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        esModuleInterop: true,
        useDefineForClassFields: false,
        inlineSourceMap: true,
      },
    });
    return { code: result.outputText };
  };
}

export function cliActor(config: PrivacyConfig, id: string | undefined): z.output<typeof actorSchema> {
  const base = config.actor ?? { id: `cli:${os.userInfo().username}`, roles: [ADMIN_ROLE] };
  return actorSchema.parse(id ? { ...base, id } : base);
}

/** Whether requests run inside the process that submits them (no queue given, or the in-process queue). */
export function runsInProcess(config: PrivacyConfig): boolean {
  return !config.queue || config.queue.name === 'in-process';
}

/**
 * The queue, for commands that only read or submit: jobs go to the queue as usual but this process starts no
 * worker, so `status` or `list` never run someone's request as a side effect. Requests submitted this way with the
 * in-process queue stay queued until an engine starts (`privacy-engine worker`), which resumes unfinished requests.
 */
function producerOnly(queue: QueuePort): QueuePort {
  return {
    ...queue,
    start: async () => undefined,
    enqueue: (job) => queue.enqueue(job),
    drain: () => Promise.resolve(),
    close: () => queue.close(), // releases connections (BullMQ's Redis, say); nothing of ours runs there
  };
}

export function createEngine(config: PrivacyConfig, mode: 'worker' | 'client'): PrivacyEngine {
  const { actor: _actor, coverage: _coverage, ...options } = config;
  if (mode === 'worker') return new PrivacyEngine(options);
  // A client that submits to the in-process queue without running it: the request is persisted and resumed by the next worker.
  const queue: QueuePort = config.queue ?? { name: 'in-process', start: async () => undefined, enqueue: async () => undefined, drain: async () => undefined, close: async () => undefined };
  return new PrivacyEngine({ ...options, queue: producerOnly(queue) });
}
