import { bootstrap, Logger } from '@vendure/core';
import { config } from './vendure-config';

bootstrap(config).catch((error: unknown) => {
  Logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
