import { defineConfig } from 'tsup';

// Each entry becomes a subpath export (see package.json "exports").
// Adapters add themselves here as `adapters/<name>`: 'src/adapters/<name>.ts'.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'http/express': 'src/http/express.ts',
    'http/dashboard': 'src/http/dashboard.ts',
    'http/index': 'src/http/index.ts',
    'http/nestjs': 'src/http/nestjs.ts',
    'adapters/local-storage': 'src/adapters/local-storage.ts',
    'adapters/s3': 'src/adapters/s3.ts',
    'adapters/in-process-queue': 'src/adapters/in-process-queue.ts',
    'adapters/typeorm-queue': 'src/adapters/typeorm-queue.ts',
    'adapters/bullmq': 'src/adapters/bullmq.ts',
    'adapters/log-notifier': 'src/adapters/log-notifier.ts',
    'adapters/smtp-notifier': 'src/adapters/smtp-notifier.ts',
    'adapters/webhook-notifier': 'src/adapters/webhook-notifier.ts',
    // The `privacy-engine` bin (package.json "bin"), not a subpath export.
    cli: 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  // tsconfig's emitDecoratorMetadata makes tsup compile with @swc/core, which keeps decorator metadata.
  external: ['typeorm', 'reflect-metadata', 'bullmq', 'ioredis', 'nodemailer', /^@nestjs\//, 'rxjs'],
  // p-limit ships as ESM only: bundled, so the CommonJS build can require() it.
  noExternal: ['p-limit'],
});
