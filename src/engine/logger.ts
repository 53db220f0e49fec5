/** Where the engine writes operational messages. Entries carry ids and codes only, never personal data. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const consoleLogger: Logger = {
  info: () => undefined,
  warn: (message, fields) => console.warn(`[privacy-engine] ${message}`, fields ?? ''),
  error: (message, fields) => console.error(`[privacy-engine] ${message}`, fields ?? ''),
};
