import type { CategoryDefinition, DataCategoryProvider as ProviderContract } from '../metadata/declarations.js';
import { getRegistry } from '../metadata/registry.js';

export interface DataCategoryProviderOptions {
  /** Stable provider name; defaults to the class name. */
  name?: string;
  category: string | CategoryDefinition;
}

/**
 * Marks a class that serves a category of data held outside TypeORM. The engine constructs it with
 * no arguments unless an instance is registered with engine.registerProvider() under the same name.
 */
export function DataCategoryProvider(options: DataCategoryProviderOptions) {
  return <C extends new () => ProviderContract>(target: C): void => {
    getRegistry().providers.push({ name: options.name ?? target.name, category: options.category, provider: target });
  };
}
