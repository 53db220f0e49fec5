export const PRIVACY_PLUGIN_OPTIONS = Symbol('PRIVACY_PLUGIN_OPTIONS');
export const loggerCtx = 'PrivacyPlugin';

export interface PrivacyPluginOptions {
  /** At least 32 random characters; every key of the engine is derived from it. Keep it out of the code. */
  secret: string;
  /** Where encrypted export archives are kept; server and worker must see the same directory. */
  storageDirectory: string;
  /** Days an anonymize or delete can still be restored (privacy-engine's default: 30). */
  recoveryWindowDays?: number;
}
