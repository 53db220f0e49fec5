/**
 * Runs the example's TypeScript with decorator metadata, which NestJS reads to inject constructor parameters by
 * type (tsx/esbuild does not emit it). A Node module hook compiles each .ts file with @swc/core, as `nest build`
 * with the swc builder would:  node --import ./examples/nestjs-crm/swc-register.mjs examples/nestjs-crm/main.ts
 */
import { register } from 'node:module';

register('./swc-hooks.mjs', import.meta.url);
