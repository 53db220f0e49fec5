import type { Logger } from '../../src/index.js';

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  message: string;
  fields?: Record<string, unknown>;
}

/**
 * An engine logger for tests: keeps every entry for assertions and prints nothing, so expected start-up
 * warnings (a missing keyset index on a fixture) do not read like failures in the test output.
 */
export function createTestLogger(): Logger & { entries: LogEntry[]; warnings(code?: string): LogEntry[] } {
  const entries: LogEntry[] = [];
  const record = (level: LogEntry['level']) => (message: string, fields?: Record<string, unknown>) => {
    entries.push({ level, message, ...(fields === undefined ? {} : { fields }) });
  };
  return {
    entries,
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    warnings: (code) => entries.filter((e) => e.level === 'warn' && (code === undefined || e.fields?.code === code)),
  };
}
