import { defineConfig } from 'tsup';

// Each entry becomes a subpath export (see package.json "exports").
// Adapters add themselves here as `adapters/<name>`: 'src/adapters/<name>.ts'.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'http/express': 'src/http/express.ts',
    'adapters/local-storage': 'src/adapters/local-storage.ts',
    'adapters/s3': 'src/adapters/s3.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  // tsconfig's emitDecoratorMetadata makes tsup compile with @swc/core, which keeps decorator metadata.
  external: ['typeorm', 'reflect-metadata'],
});
