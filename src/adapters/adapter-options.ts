import type { z } from 'zod';
import { ValidationError } from '../errors.js';

/** Parses an adapter's options (or a message it was given) with zod; issues name the path, never the value. */
export function parseAdapterInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
  throw new ValidationError(`Invalid ${what}: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
}

/** Imports an optional peer dependency, or says which package to install. */
export async function importPeer<T>(adapter: string, packageName: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (cause) {
    const { AdapterError } = await import('../errors.js');
    throw new AdapterError(adapter, `The ${adapter} adapter needs the '${packageName}' package: install ${packageName}`, cause);
  }
}
